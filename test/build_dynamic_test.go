package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil"
)

// TestBuildDynamicBinaryScans: a plain "go build" with cgo links
// dynamically; sent to the builder with its loader and libraries, it still
// runs the scan step.
func TestBuildDynamicBinaryScans(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("gcc"); err != nil {
		testutil.RequireE2E(t, "no C compiler for a cgo build (apt-get install gcc)")
	}
	exe := filepath.Join(t.TempDir(), "docker-secure")
	build := exec.Command("go", "build", "-o", exe, "../cmd/docker-secure")
	build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cgo build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if testutil.IsStaticELF(b) {
		t.Fatal("the cgo build is static; the test needs a dynamically linked binary")
	}

	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	r := e.buildWith(t, exe, dir)
	if r.Code != 0 || !strings.Contains(r.Stderr, "secure-build linux/amd64: PASS") || !strings.Contains(r.Stderr, unfixedCriticalID) {
		t.Errorf("build with the dynamically linked binary: exit %d\n%s", r.Code, r.Stderr)
	}
}
