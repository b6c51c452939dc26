package plugin

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestRecommendImage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	multi := write("Dockerfile", "ARG TAG=12.4-slim\nFROM debian:${TAG} AS base\nFROM golang:1.23-${TARGETARCH} AS build\nFROM base\nCOPY --from=build /x /x\n")
	scratch := write("Dockerfile.scratch", "FROM scratch\nCOPY x /x\n")
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	for _, tc := range []struct {
		opts recommendOptions
		args []string
		want string // the image, or the error's words
	}{
		{args: []string{"registry.example.com/app:1.0"}, want: "registry.example.com/app:1.0"},
		{args: []string{"registry:registry.example.com/app:1.0"}, want: "registry.example.com/app:1.0"},
		{opts: recommendOptions{file: multi}, want: "debian:12.4-slim"},
		{opts: recommendOptions{file: multi, buildArgs: []string{"TAG=12.8-slim"}}, want: "debian:12.8-slim"},
		{opts: recommendOptions{file: multi, target: "build"}, want: "golang:1.23-" + runtime.GOARCH},
		{opts: recommendOptions{file: scratch}, want: "error: is not a registry image"},
		{opts: recommendOptions{file: multi}, args: []string{"app:1"}, want: "error: not both"},
		{want: "error: name an IMAGE"},
		{opts: recommendOptions{file: filepath.Join(dir, "missing")}, want: "error: read Dockerfile"},
	} {
		got, err := recommendImage(tc.opts, tc.args, platform)
		if words, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), words) {
				t.Errorf("%+v %q: %q, %v; want an error with %q", tc.opts, tc.args, got, err, words)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v %q: %q, %v; want %q", tc.opts, tc.args, got, err, tc.want)
		}
	}
}
