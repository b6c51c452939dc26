package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
)

func TestParseOutputs(t *testing.T) {
	dir := t.TempDir()
	tags := []string{"r.example/app:1", "r.example/app:latest"}
	for _, tc := range []struct {
		name    string
		outputs []string
		push    bool
		load    bool
		want    Output
	}{
		{"type=registry with tags", []string{"type=registry"}, false, false,
			Output{Type: client.ExporterImage, Attrs: map[string]string{"push": "true", "name": "r.example/app:1,r.example/app:latest"}}},
		{"--push", nil, true, false,
			Output{Type: client.ExporterImage, Attrs: map[string]string{"push": "true", "name": "r.example/app:1,r.example/app:latest"}}},
		{"--load", nil, false, true,
			Output{Type: client.ExporterDocker, Attrs: map[string]string{"name": "r.example/app:1,r.example/app:latest"}}},
		{"-o DIR", []string{dir}, false, false, Output{Type: client.ExporterLocal, Attrs: map[string]string{}, Dest: dir}},
		{"type=oci,dest=FILE", []string{"type=oci,dest=" + filepath.Join(dir, "app.tar")}, false, false,
			Output{Type: client.ExporterOCI, Attrs: map[string]string{"name": "r.example/app:1,r.example/app:latest"}, Dest: filepath.Join(dir, "app.tar")}},
		{"keys are any case", []string{"TYPE=local,Dest=" + dir + ",Mode=delete"}, false, false,
			Output{Type: client.ExporterLocal, Attrs: map[string]string{"mode": "delete"}, Dest: dir}},
	} {
		got, err := ParseOutputs(tc.outputs, tc.push, tc.load, tags)
		if err != nil || len(got) != 1 {
			t.Errorf("%s: %+v, %v", tc.name, got, err)
			continue
		}
		got[0].spec = ""
		if got[0].Type != tc.want.Type || got[0].Dest != tc.want.Dest || !mapsEqual(got[0].Attrs, tc.want.Attrs) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got[0], tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "app.tar")); !os.IsNotExist(err) {
		t.Errorf("the parse wrote the output file: %v", err)
	}
	for spec, want := range map[string]string{
		"type=tar":             "dest=FILE",
		"type=tar,dest=-":      "dest=FILE",
		"type=oci":             "dest=FILE",
		"type=local":           "dest=DIR",
		"type=oci,tar=false":   "dest=DIR",
		"type=image,dest=x":    "no dest",
		"type=floppy,dest=a":   "unknown output type",
		"type=oci,dest=a,oops": "key=value",
		`type=oci,"dest=a`:     "",
		"type=registry":        "tag is needed when pushing",
	} {
		_, err := ParseOutputs([]string{spec}, false, false, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", spec)) {
			t.Errorf("-o %s: got %v, want an error naming it and saying %q", spec, err, want)
		}
	}
	for _, spec := range []string{"type=docker", "type=docker,tar=false"} {
		if _, err := ParseOutputs([]string{spec}, false, false, nil); err != nil {
			t.Errorf("-o %s: %v; whether it needs a dest is the builder's", spec, err)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
