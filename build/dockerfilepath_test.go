package build

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDockerfileInContext(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app", "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ context, dockerfile, want string }{
		{dir, "", "Dockerfile"},
		{dir, filepath.Join(dir, "app", "docker", "Dockerfile.prod"), "app/docker/Dockerfile.prod"},
		{filepath.Join(dir, "app"), filepath.Join(dir, "Dockerfile"), ""}, // outside the context
		{dir, Stdin, ""},
		{"https://github.com/o/r.git#main:sub", "", "Dockerfile"},
		{"https://github.com/o/r.git", "build/Dockerfile", "build/Dockerfile"},
		{"https://github.com/o/r.git", "/abs/Dockerfile", ""}, // on this machine, not in the repository
	} {
		if got := DockerfileInContext(tc.context, tc.dockerfile); got != tc.want {
			t.Errorf("DockerfileInContext(%q, %q) = %q, want %q", tc.context, tc.dockerfile, got, tc.want)
		}
	}
}
