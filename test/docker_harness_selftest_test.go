package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerEngineHarness proves the Docker Engine part of the end-to-end
// harness, the baseline docker secure build is compared with: a private
// dockerd on its own containerd, with the containerd image store; a base
// image loaded with docker load and one pulled from the loopback registry
// over plain HTTP; docker run through containerd, its shim and runc; buildx
// installed in a private DOCKER_CONFIG, building on the engine's own BuildKit
// (the default docker driver) and loading the result; and a remote builder
// at the harness's buildkitd registered next to it.
func TestDockerEngineHarness(t *testing.T) {
	reg := startRegistry(t)
	engine := startDockerEngine(t, reg.host)
	env := engine.cli(t)

	if got := engine.imageStoreDriver(t, env); got != "io.containerd.snapshotter.v1" {
		t.Errorf("docker info driver-type = %q, want the containerd image store (io.containerd.snapshotter.v1)", got)
	}

	const osRelease = "ID=secure-build-test\nVERSION_ID=1\n"
	img := busyboxImage(t, osRelease)
	start := time.Now()
	engine.loadImage(t, env, "busybox-base:1", img)
	t.Logf("busybox base loaded in %s", time.Since(start).Round(time.Millisecond))
	if out := engine.mustDocker(t, env, "run", "--rm", "busybox-base:1", "echo", "ok"); strings.TrimSpace(out) != "ok" {
		t.Errorf("docker run --rm busybox-base:1 echo ok printed %q", out)
	}

	pushed := reg.putImage(t, "base:1", img)
	engine.mustDocker(t, env, "pull", pushed.ref)
	if out := engine.mustDocker(t, env, "run", "--rm", pushed.ref, "cat", "/etc/os-release"); out != osRelease {
		t.Errorf("/etc/os-release of the pulled %s = %q, want %q", pushed.ref, out, osRelease)
	}

	installBuildx(t, env)
	if r := engine.docker(t, env, "buildx", "version"); r.code != 0 || !strings.Contains(r.stdout, "buildx") {
		t.Fatalf("docker buildx version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	ctx := t.TempDir()
	dockerfile := "FROM busybox-base:1 AS build\nRUN echo built > /built\n\nFROM " + pushed.ref + "\nCOPY --from=build /built /built\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	engine.mustDocker(t, env, "buildx", "build", "--progress", "plain", "--load", "-t", "app:1", ctx)
	t.Logf("docker buildx build --load on the engine's BuildKit in %s", time.Since(start).Round(time.Millisecond))
	if out := engine.mustDocker(t, env, "run", "--rm", "app:1", "cat", "/built"); strings.TrimSpace(out) != "built" {
		t.Errorf("/built of the built app:1 = %q, want the RUN step's output", out)
	}

	bk := startBuildKit(t, reg.host)
	createRemoteBuilder(t, env, "harness-remote", bk.addr)
	ls := engine.mustDocker(t, env, "buildx", "ls")
	if !strings.Contains(ls, "harness-remote") || !strings.Contains(ls, "remote") {
		t.Errorf("docker buildx ls does not list the remote builder:\n%s", ls)
	}
	if out := engine.mustDocker(t, env, "buildx", "inspect", "--bootstrap", "harness-remote"); !strings.Contains(out, "running") {
		t.Errorf("docker buildx inspect harness-remote: not running:\n%s", out)
	}
}
