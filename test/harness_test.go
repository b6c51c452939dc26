// Package test holds the end-to-end tests: the docker-secure binary, built
// static as it is released, run against real root filesystems, BuildKit,
// Docker Engine and registries (internal/testutil), and through the real
// docker CLI.
package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil"
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
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "../cmd/docker-secure")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build docker-secure: %v\n%s", err, out)
		return 1
	}
	defer testutil.StopShared()
	return m.Run()
}

// The components the tests share: one registry (each test has a namespace
// of its own in it), one buildkitd and one Docker Engine that trust it, and
// the busybox base pushed there once. Tests on one daemon share its cache:
// their contexts, databases and repositories differ, so no test's build is
// another's; a test whose assertions depend on what its daemon cached or was
// sent before takes a daemon of its own (ownBuildKit).
var (
	sharedRegistry testutil.Shared[*testutil.Registry]
	sharedBuildKit testutil.Shared[*testutil.BuildKit]
	sharedEngine   testutil.Shared[*testutil.DockerEngine]
	sharedBase     testutil.Shared[testutil.PushedImage]
)

// registry is the shared registry, in the test's namespace.
func registry(t *testing.T) *testutil.Registry {
	t.Helper()
	return rootRegistry(t).Namespace(t)
}

func rootRegistry(t *testing.T) *testutil.Registry {
	t.Helper()
	return sharedRegistry.Get(t, func(t testing.TB) (*testutil.Registry, func()) {
		r, err := testutil.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		return r, func() { r.Close() }
	})
}

// buildKit is the shared buildkitd.
func buildKit(t *testing.T) *testutil.BuildKit {
	t.Helper()
	buildkitd, buildctl := testutil.BuildKitBinaries(t)
	reg := rootRegistry(t)
	return sharedBuildKit.Get(t, func(t testing.TB) (*testutil.BuildKit, func()) {
		bk, err := testutil.NewBuildKit(buildkitd, buildctl, reg.Addr)
		if err != nil {
			t.Fatal(err)
		}
		return bk, func() {
			if msg := bk.Close(); msg != "" {
				fmt.Fprintln(os.Stderr, msg)
			}
		}
	})
}

// ownBuildKit is a buildkitd of the test's own, trusting the shared
// registry, for a test whose assertions depend on what its daemon has
// cached or been sent before.
func ownBuildKit(t *testing.T) *testutil.BuildKit {
	t.Helper()
	return testutil.StartBuildKit(t, rootRegistry(t).Addr)
}

// dockerEngine is the shared Docker Engine.
func dockerEngine(t *testing.T) *testutil.DockerEngine {
	t.Helper()
	bins := testutil.DockerEngineBinaries(t)
	reg := rootRegistry(t)
	return sharedEngine.Get(t, func(t testing.TB) (*testutil.DockerEngine, func()) {
		e, err := testutil.NewDockerEngine(bins, reg.Addr)
		if err != nil {
			t.Fatal(err)
		}
		return e, func() {
			if msg := e.Close(); msg != "" {
				fmt.Fprintln(os.Stderr, msg)
			}
		}
	})
}

// debianOSRelease makes the busybox base a Debian 12 as far as the scanner
// can tell.
const debianOSRelease = "ID=debian\nVERSION_ID=12\nVERSION_CODENAME=bookworm\n"

// busyboxBase is the shared busybox base, HOST/base:1.
func busyboxBase(t *testing.T) testutil.PushedImage {
	t.Helper()
	reg := rootRegistry(t)
	return sharedBase.Get(t, func(t testing.TB) (testutil.PushedImage, func()) {
		return reg.Push(t, "base:1", testutil.BusyboxImage(t, debianOSRelease)), nil
	})
}

// pluginConfig makes a private DOCKER_CONFIG with docker-secure installed as
// a CLI plugin, as "make install" does, and returns the env to use it. No
// daemon is needed: DOCKER_HOST points nowhere so nothing is dialed by
// accident.
func pluginConfig(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		testutil.RequireE2E(t, "no docker CLI on PATH")
	}
	dir := testutil.PluginConfig(t, map[string]string{"docker-secure": binary})
	return []string{"DOCKER_CONFIG=" + dir, "DOCKER_HOST=unix://" + filepath.Join(dir, "no-daemon.sock")}
}

type result = testutil.Result

// runCmd runs a command and returns its output and exit status; only a
// failure to start it fails the test.
func runCmd(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	return testutil.Run(t, env, name, args...)
}
