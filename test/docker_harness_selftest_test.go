package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/internal/testutil"
)

// TestDockerEngineHarness proves the Docker Engine part of the end-to-end
// harness, the baseline docker secure build is compared with: a dockerd on
// its own containerd, with the containerd image store; a base
// image loaded with docker load and one pulled from the loopback registry
// over plain HTTP; docker run through containerd, its shim and runc; buildx
// installed in a private DOCKER_CONFIG, building on the engine's own BuildKit
// (the default docker driver) and loading the result; and a remote builder
// at the harness's buildkitd registered next to it.
func TestDockerEngineHarness(t *testing.T) {
	t.Parallel()
	reg := registry(t)
	engine := dockerEngine(t)
	env := engine.CLI(t, map[string]string{"docker-secure": binary})

	if got := engine.ImageStoreDriver(t, env); got != "io.containerd.snapshotter.v1" {
		t.Errorf("docker info driver-type = %q, want the containerd image store (io.containerd.snapshotter.v1)", got)
	}

	const osRelease = "ID=secure-build-test\nVERSION_ID=1\n"
	img := testutil.BusyboxImage(t, osRelease)
	start := time.Now()
	engine.Load(t, env, "harness-base:1", img)
	t.Logf("busybox base loaded in %s", time.Since(start).Round(time.Millisecond))
	if out := engine.MustDocker(t, env, "run", "--rm", "harness-base:1", "echo", "ok"); strings.TrimSpace(out) != "ok" {
		t.Errorf("docker run --rm harness-base:1 echo ok printed %q", out)
	}

	pushed := reg.Push(t, "base:1", img)
	engine.MustDocker(t, env, "pull", pushed.Ref)
	if out := engine.MustDocker(t, env, "run", "--rm", pushed.Ref, "cat", "/etc/os-release"); out != osRelease {
		t.Errorf("/etc/os-release of the pulled %s = %q, want %q", pushed.Ref, out, osRelease)
	}

	testutil.InstallBuildx(t, env)
	if r := engine.Docker(t, env, "buildx", "version"); r.Code != 0 || !strings.Contains(r.Stdout, "buildx") {
		t.Fatalf("docker buildx version: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	ctx := t.TempDir()
	dockerfile := "FROM harness-base:1 AS build\nRUN echo built > /built\n\nFROM " + pushed.Ref + "\nCOPY --from=build /built /built\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	engine.MustDocker(t, env, "buildx", "build", "--progress", "plain", "--load", "-t", "harness:1", ctx)
	t.Logf("docker buildx build --load on the engine's BuildKit in %s", time.Since(start).Round(time.Millisecond))
	if out := engine.MustDocker(t, env, "run", "--rm", "harness:1", "cat", "/built"); strings.TrimSpace(out) != "built" {
		t.Errorf("/built of the built harness:1 = %q, want the RUN step's output", out)
	}

	testutil.CreateRemoteBuilder(t, env, "harness-remote", buildKit(t).Addr)
	ls := engine.MustDocker(t, env, "buildx", "ls")
	if !strings.Contains(ls, "harness-remote") || !strings.Contains(ls, "remote") {
		t.Errorf("docker buildx ls does not list the remote builder:\n%s", ls)
	}
	if out := engine.MustDocker(t, env, "buildx", "inspect", "--bootstrap", "harness-remote"); !strings.Contains(out, "running") {
		t.Errorf("docker buildx inspect harness-remote: not running:\n%s", out)
	}
}
