// Package test holds the end-to-end tests: the docker-secure binary, built
// static as it is released, run against real root filesystems and through the
// real docker CLI.
package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// binary is the docker-secure built for this run.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "secure-build-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "docker-secure")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "../cmd/docker-secure")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build docker-secure: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// requireE2E skips a test whose real component is missing, or fails it when
// SECURE_BUILD_E2E=1 (as scripts/test.sh and CI set it): there the component
// must be present, and a skip would hide a missing install step.
func requireE2E(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("SECURE_BUILD_E2E") == "1" {
		t.Fatalf("SECURE_BUILD_E2E=1 but %s", msg)
	}
	t.Skipf("%s (scripts/test.sh prepares it)", msg)
}

// testRootfs is the debootstrap root scripts/test.sh prepares.
func testRootfs(t *testing.T) string {
	t.Helper()
	root := os.Getenv("SECURE_BUILD_TEST_ROOTFS")
	if root == "" {
		requireE2E(t, "SECURE_BUILD_TEST_ROOTFS names no debootstrap root")
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/status")); err != nil {
		t.Fatalf("SECURE_BUILD_TEST_ROOTFS=%s is not a Debian root: %v", root, err)
	}
	return root
}

type result struct {
	stdout, stderr string
	code           int
}

// runCmd runs a command and returns its output and exit status; only a
// failure to start it fails the test.
func runCmd(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %s %v: %v", name, args, err)
		}
		code = exitErr.ExitCode()
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}
