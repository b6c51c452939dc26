package build

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
)

// exportsOf parses the flags and makes the exports for t, failing the test
// on a parse error.
func exportsOf(t *testing.T, outputs []string, push, load bool, tags []string, tg target) ([]client.ExportEntry, []outputFinisher, error) {
	t.Helper()
	parsed, err := ParseOutputs(outputs, push, load, tags)
	if err != nil {
		t.Fatal(err)
	}
	return exportsFor(parsed, tg)
}

// On Docker Engine's BuildKit, images go to the engine through the moby
// exporter: by default (the caller asks for a load), with --load, with -t,
// and with --push; the classic image store gets its warning, the
// containerd one none.
func TestOutputsOnEngine(t *testing.T) {
	for _, tc := range []struct {
		name      string
		outputs   []string
		push      bool
		load      bool
		tags      []string
		want      []client.ExportEntry
		noWarning bool
	}{
		{"no output", nil, false, false, nil, []client.ExportEntry{{Type: "moby", Attrs: map[string]string{}}}, false},
		{"-t", nil, false, false, []string{"app:1"}, []client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": "app:1"}}}, false},
		{"--load", nil, false, true, []string{"app:1"}, []client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": "app:1"}}}, false},
		{"--push", nil, true, false, []string{"r.example/app:1"},
			[]client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": "r.example/app:1", "push": "true"}}}, false},
		{"-o type=local", []string{"type=local,dest=" + filepath.Join(t.TempDir(), "out")}, false, false, nil, []client.ExportEntry{{Type: "local", Attrs: map[string]string{}}}, true},
		{"-o type=docker,tar=false", []string{"type=docker,tar=false"}, false, false, nil, []client.ExportEntry{{Type: "moby", Attrs: map[string]string{"tar": "false"}}}, false},
	} {
		for _, containerd := range []bool{true, false} {
			var warn strings.Builder
			tg := target{moby: true, containerdStore: func() (bool, error) { return containerd, nil }, warn: &warn}
			// With no output named, the engine loads, as --load.
			load := tc.load || len(tc.outputs) == 0 && !tc.push
			got, staged, err := exportsOf(t, tc.outputs, tc.push, load, tc.tags, tg)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			for i, e := range got {
				// BuildKit writes a folder output into a staging folder
				// beside it, which a failed build removes.
				if e.OutputDir != "" {
					if !strings.HasPrefix(filepath.Base(e.OutputDir), ".out.") {
						t.Errorf("%s: BuildKit writes into %s, not beside the destination", tc.name, e.OutputDir)
					}
					got[i].OutputDir = ""
					if err := finishAll(staged, false); err != nil {
						t.Error(err)
					}
					if _, err := os.Stat(e.OutputDir); !os.IsNotExist(err) {
						t.Errorf("%s: the staging folder is left after a failed build: %v", tc.name, err)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: exports %+v, want %+v", tc.name, got, tc.want)
			}
			warned := strings.Contains(warn.String(), "containerd image store")
			if warned != (!containerd && !tc.noWarning) {
				t.Errorf("%s (containerd store %v): warning %q", tc.name, containerd, warn.String())
			}
			if strings.Contains(warn.String(), "No output specified") {
				t.Errorf("%s: the engine is an output, yet: %q", tc.name, warn.String())
			}
		}
	}
}

// On the engine, a push is the engine's after the build: the export only
// stores the image.
func TestTakeEnginePushes(t *testing.T) {
	exports := []client.ExportEntry{
		{Type: "moby", Attrs: map[string]string{"name": "r.example/app:1,r.example/app:latest", "push": "true"}},
		{Type: "local", Attrs: map[string]string{"push": "true"}},
	}
	names := takeEnginePushes(exports)
	if fmt.Sprint(names) != "[r.example/app:1 r.example/app:latest]" {
		t.Errorf("names to push: %v", names)
	}
	if _, ok := exports[0].Attrs["push"]; ok || exports[1].Attrs["push"] != "true" {
		t.Errorf("exports after: %+v", exports)
	}
}

// Elsewhere -t alone exports nothing, as docker buildx build with a
// docker-container builder: the result stays in the build cache.
func TestOutputsOffEngine(t *testing.T) {
	var warn strings.Builder
	got, _, err := exportsOf(t, nil, false, false, []string{"app:1"}, target{warn: &warn})
	if err != nil || len(got) != 0 || !strings.Contains(warn.String(), "No output specified") {
		t.Errorf("-t alone: exports %+v, %v, warning %q", got, err, warn.String())
	}
	// A docker layout needs a folder when there is no engine to store it.
	if _, _, err := exportsOf(t, []string{"type=docker,tar=false"}, false, false, nil, target{warn: &warn}); err == nil || !strings.Contains(err.Error(), "dest=DIR") {
		t.Errorf("-o type=docker,tar=false off the engine: %v, want an error asking for dest=DIR", err)
	}
	// A file output is written beside its destination, not before the build.
	dest := filepath.Join(t.TempDir(), "app.tar")
	got, staged, err := exportsOf(t, []string{"type=oci,dest=" + dest}, false, false, nil, target{warn: &warn})
	if err != nil || len(got) != 1 || got[0].Output == nil || len(staged) != 1 {
		t.Fatalf("type=oci,dest=FILE: %+v, %v", got, err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("the output file exists before the build wrote it: %v", err)
	}
}

// A file output replaces its destination only when the build succeeded; a
// failed build leaves the old file as it was and no temporary file behind.
func TestOutputFileFinish(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "app.tar")
	if err := os.WriteFile(dest, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(ok bool, content string) {
		out := &outputFile{path: dest}
		w, err := out.output(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := out.finish(ok); err != nil {
			t.Fatal(err)
		}
	}
	write(false, "half")
	if b, _ := os.ReadFile(dest); string(b) != "old" {
		t.Errorf("after a failed build the output holds %q, want the old content", b)
	}
	write(true, "new")
	if b, _ := os.ReadFile(dest); string(b) != "new" {
		t.Errorf("after a good build the output holds %q, want the new content", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// A push off the engine writes attestation manifests as OCI artifacts with a
// subject, unless the user chose otherwise or asked for Docker media types.
func TestPushMarksAttestationsArtifacts(t *testing.T) {
	for _, c := range []struct {
		outputs []string
		want    string
	}{
		{nil, "true"},
		{[]string{"type=image,push=true,oci-artifact=false"}, "false"},
		{[]string{"type=image,push=true,oci-mediatypes=false"}, ""},
	} {
		got, _, err := exportsOf(t, c.outputs, c.outputs == nil, false, []string{"127.0.0.1:5000/app:1"}, target{warn: io.Discard})
		if err != nil || len(got) != 1 || got[0].Attrs["oci-artifact"] != c.want {
			t.Errorf("%q: exports %+v, %v; want oci-artifact %q", c.outputs, got, err, c.want)
		}
	}
}
