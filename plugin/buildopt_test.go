package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
)

func TestAddAttests(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts buildOptions
		want map[string]string
	}{
		{"default provenance as buildx", buildOptions{}, map[string]string{"attest:provenance": "mode=min"}},
		{"no provenance", buildOptions{provenance: "false"}, map[string]string{}},
		{"sbom and max provenance", buildOptions{sbom: "true", attests: []string{"type=provenance,mode=max"}},
			map[string]string{"attest:sbom": "", "attest:provenance": "mode=max"}},
		{"sbom with parameters", buildOptions{attests: []string{"type=sbom,scan-stage=true"}, provenance: "0"},
			map[string]string{"attest:sbom": "scan-stage=true"}},
	} {
		attrs := map[string]string{}
		if err := addAttests(attrs, tc.opts); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(attrs) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, attrs, tc.want)
		}
		for k, v := range tc.want {
			if got, ok := attrs[k]; !ok || got != v {
				t.Errorf("%s: %s=%q, want %q", tc.name, k, got, v)
			}
		}
	}
	if err := addAttests(map[string]string{}, buildOptions{attests: []string{"mode=max"}}); err == nil || !strings.Contains(err.Error(), "type=") {
		t.Errorf("--attest without a type: got %v, want an error asking for type=", err)
	}
}

func TestParseOutput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tagged := buildOptions{tags: []string{"r.example/app:1", "r.example/app:latest"}, push: true}
	e, _, err := parseOutput(ctx, nil, "type=registry", tagged, exportTarget{})
	if err != nil || e.Type != client.ExporterImage || e.Attrs["push"] != "true" || e.Attrs["name"] != "r.example/app:1,r.example/app:latest" {
		t.Errorf("type=registry with tags: %+v, %v", e, err)
	}
	e, _, err = parseOutput(ctx, nil, dir, buildOptions{}, exportTarget{})
	if err != nil || e.Type != client.ExporterLocal || e.OutputDir != dir {
		t.Errorf("-o DIR: %+v, %v; want type=local", e, err)
	}
	e, file, err := parseOutput(ctx, nil, "type=oci,dest="+filepath.Join(dir, "app.tar"), buildOptions{}, exportTarget{})
	if err != nil || e.Output == nil || file == nil {
		t.Fatalf("type=oci,dest=FILE: %+v, %v", e, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "app.tar")); !os.IsNotExist(err) {
		t.Errorf("the output file exists before the build wrote it: %v", err)
	}
	for spec, want := range map[string]string{
		"type=tar":              "dest=FILE",
		"type=local":            "dest=DIR",
		"type=oci,tar=false":    "dest=DIR",
		"type=image,dest=x":     "no dest",
		"type=floppy,dest=a":    "unknown output type",
		"type=oci,dest=a,oops":  "key=value",
		`type=oci,"dest=a`:      "",
		"type=docker,tar=false": "dest=DIR",
		"type=registry":         "tag is needed when pushing",
	} {
		_, _, err := parseOutput(ctx, nil, spec, buildOptions{}, exportTarget{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("-o %s: got %v, want an error saying %q", spec, err, want)
		}
	}
}

// On Docker Engine's BuildKit, images go to the engine through the moby
// exporter: by default, with --load, with -t, and with --push; the classic
// image store gets its warning, the containerd one none.
func TestOutputsOnEngine(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		opts      buildOptions
		want      []client.ExportEntry
		noWarning bool
	}{
		{"no output", buildOptions{}, []client.ExportEntry{{Type: "moby", Attrs: map[string]string{}}}, false},
		{"-t", buildOptions{tags: []string{"app:1"}}, []client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": "app:1"}}}, false},
		{"--load", buildOptions{load: true, tags: []string{"app:1"}}, []client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": "app:1"}}}, false},
		{"--push", buildOptions{push: true, tags: []string{"r.example/app:1"}},
			[]client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": "r.example/app:1", "push": "true"}}}, false},
		{"-o type=local", buildOptions{outputs: []string{"type=local,dest=" + filepath.Join(t.TempDir(), "out")}}, []client.ExportEntry{{Type: "local", Attrs: map[string]string{}}}, true},
	} {
		for _, containerd := range []bool{true, false} {
			var warn strings.Builder
			target := exportTarget{engine: true, containerdStore: func() (bool, error) { return containerd, nil }, warn: &warn}
			got, done, err := parseOutputs(ctx, nil, tc.opts, target)
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
					if err := done(false); err != nil {
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
	got, _, err := parseOutputs(context.Background(), nil, buildOptions{tags: []string{"app:1"}}, exportTarget{warn: &warn})
	if err != nil || len(got) != 0 || !strings.Contains(warn.String(), "No output specified") {
		t.Errorf("-t alone: exports %+v, %v, warning %q", got, err, warn.String())
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

func TestBuildContexts(t *testing.T) {
	layout := t.TempDir()
	index := `{"schemaVersion":2,"manifests":[
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaa","size":1,"annotations":{"org.opencontainers.image.ref.name":"1"}},
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbb","size":1,"annotations":{"org.opencontainers.image.ref.name":"2"}}]}`
	if err := os.WriteFile(filepath.Join(layout, "index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	solve := client.SolveOpt{FrontendAttrs: map[string]string{}, LocalMounts: map[string]fsutil.FS{}, OCIStores: map[string]content.Store{}}
	err := addBuildContexts(&solve, []string{
		"base=oci-layout://" + layout + ":2",
		"pinned=oci-layout://" + layout + "@sha256:aaaa",
		"src=" + src,
		"alpine=docker-image://alpine:3.20",
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"context:base":   "oci-layout://oci-layout-0:2@sha256:bbbb",
		"context:pinned": "oci-layout://oci-layout-1@sha256:aaaa",
		"context:src":    "local:src",
		"context:alpine": "docker-image://alpine:3.20",
	} {
		if got := solve.FrontendAttrs[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if solve.LocalMounts["src"] == nil || solve.OCIStores["oci-layout-0"] == nil || len(solve.OCIStores) != 2 {
		t.Errorf("the folder or the layout is not sent: %v %v", solve.LocalMounts, solve.OCIStores)
	}
	for spec, want := range map[string]string{
		"base=oci-layout://" + layout:             "holds 2 images",
		"base=oci-layout://" + layout + ":3":      `0 images tagged "3"`,
		"base=oci-layout://" + t.TempDir() + ":1": "index.json",
		"novalue": "name=value",
	} {
		err := addBuildContexts(&solve, []string{spec})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--build-context %s: got %v, want an error saying %q", spec, err, want)
		}
	}
}

func TestPlatformFile(t *testing.T) {
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{"out/app.spdx.json", 1, "out/app.spdx.json"},
		{"out/app.spdx.json", 2, "out/app.linux-arm64.spdx.json"},
		{"report", 2, "report.linux-arm64"},
	} {
		if got := platformFile(tc.path, "linux/arm64", tc.n); got != tc.want {
			t.Errorf("platformFile(%q, %d) = %q, want %q", tc.path, tc.n, got, tc.want)
		}
	}
}
