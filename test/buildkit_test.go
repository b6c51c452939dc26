package test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildkitBinaries returns the buildkitd and buildctl that scripts/test.sh
// builds from the go.mod-pinned BuildKit (SECURE_BUILD_BUILDKITD and
// SECURE_BUILD_BUILDCTL). A missing one, or not being root, skips the test
// (fails it under SECURE_BUILD_E2E=1).
func buildkitBinaries(t *testing.T) (buildkitd, buildctl string) {
	t.Helper()
	if os.Geteuid() != 0 {
		requireE2E(t, "buildkitd with the OCI worker needs root")
	}
	for _, v := range []struct{ env, cmd string }{
		{"SECURE_BUILD_BUILDKITD", "buildkitd"},
		{"SECURE_BUILD_BUILDCTL", "buildctl"},
	} {
		path := os.Getenv(v.env)
		if path == "" {
			requireE2E(t, "%s names no %s", v.env, v.cmd)
		}
		if _, err := os.Stat(path); err != nil {
			requireE2E(t, "%s=%s: %v", v.env, path, err)
		}
		if _, err := exec.LookPath("runc"); err != nil && v.cmd == "buildkitd" {
			requireE2E(t, "runc is not installed (apt-get install runc)")
		}
		if v.cmd == "buildkitd" {
			buildkitd = path
		} else {
			buildctl = path
		}
	}
	return buildkitd, buildctl
}

// buildkit is a private buildkitd started for one test.
type buildkit struct {
	addr     string // unix://.../buildkitd.sock, for buildctl --addr and BUILDKIT_HOST
	buildctl string
	dir      string // scratch folder of the test; short, for socket paths
}

// startBuildKit starts a private buildkitd as root (OCI worker, runc) with its
// state and socket in a fresh temporary folder, waits until it answers, and
// stops it when the test ends. plainHTTP names registries ("127.0.0.1:PORT")
// it pulls from and pushes to over plain HTTP, such as startRegistry's.
func startBuildKit(t *testing.T, plainHTTP ...string) *buildkit {
	t.Helper()
	buildkitd, buildctl := buildkitBinaries(t)
	// A unix socket path is limited to about 108 bytes: t.TempDir() can be
	// longer, so use a short folder under the system temp dir.
	dir, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove %s: %v", dir, err)
		}
	})
	bk := &buildkit{
		addr:     "unix://" + filepath.Join(dir, "buildkitd.sock"),
		buildctl: buildctl,
		dir:      dir,
	}
	logPath := filepath.Join(dir, "buildkitd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	// Always a config of our own, so that a machine's
	// /etc/buildkit/buildkitd.toml cannot change the test.
	var config strings.Builder
	for _, host := range plainHTTP {
		fmt.Fprintf(&config, "[registry.%q]\n  http = true\n  insecure = true\n", host)
	}
	configPath := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(configPath, []byte(config.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildkitd,
		"--config", configPath,
		"--root", filepath.Join(dir, "state"),
		"--addr", bk.addr,
		"--oci-worker=true", "--containerd-worker=false",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start buildkitd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	daemonLog := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	// Registered after the folder's removal, so it runs before it.
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Logf("buildkitd did not stop on SIGTERM in 20s; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("buildkitd log:\n%s", daemonLog())
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		out, err := exec.Command(buildctl, "--addr", bk.addr, "debug", "workers").CombinedOutput()
		if err == nil {
			return bk
		}
		last = strings.TrimSpace(string(out))
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("buildkitd exited before it was ready: %v\nlog:\n%s", err, daemonLog())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("buildkitd at %s not ready after 60s; last buildctl answer: %s\nlog:\n%s", bk.addr, last, daemonLog())
		}
	}
}

// build runs buildctl build against this daemon and fails the test on error,
// with buildctl's output.
func (bk *buildkit) build(t *testing.T, args ...string) string {
	t.Helper()
	r := runCmd(t, nil, bk.buildctl, append([]string{"--addr", bk.addr, "build", "--progress", "plain"}, args...)...)
	if r.code != 0 {
		t.Fatalf("buildctl build %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout + r.stderr
}

// ociBase is a base image made locally, as an OCI layout folder.
type ociBase struct {
	dir    string // the OCI layout
	digest string // the image manifest's digest, sha256:...
}

// contextArgs are the buildctl arguments that make this image the named
// context name (FROM name in a Dockerfile).
func (b ociBase) contextArgs(name string) []string {
	return []string{
		"--oci-layout", name + "=" + b.dir,
		"--opt", "context:" + name + "=oci-layout://" + name + "@" + b.digest,
	}
}

// busyboxBase makes a base image without a registry: a root with the static
// /bin/busybox of Debian's busybox-static (and sh, cat, echo linked to it)
// plus an /etc/os-release with the given content, built FROM scratch by
// buildkitd into an OCI layout.
func (bk *buildkit) busyboxBase(t *testing.T, osRelease string) ociBase {
	t.Helper()
	ctx := bk.busyboxContext(t, osRelease)
	layout := filepath.Join(filepath.Dir(ctx), "oci")
	bk.build(t,
		"--frontend", "dockerfile.v0",
		"--local", "context="+ctx, "--local", "dockerfile="+ctx,
		"--output", "type=oci,dest="+layout+",tar=false",
	)
	return ociBase{dir: layout, digest: ociManifestDigest(t, layout)}
}

// busyboxContext writes the build context of the busybox base (see
// busyboxBase), Dockerfile included, in a new folder and returns it.
func (bk *buildkit) busyboxContext(t *testing.T, osRelease string) string {
	t.Helper()
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		requireE2E(t, "no /bin/busybox (apt-get install busybox-static): %v", err)
	}
	if !isStaticELF(busybox) {
		requireE2E(t, "/bin/busybox is not the static one (apt-get install busybox-static)")
	}
	work, err := os.MkdirTemp(bk.dir, "base")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(work, "ctx", "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), busybox, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sh", "cat", "echo"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte(osRelease), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := filepath.Join(work, "ctx")
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nCOPY rootfs/ /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// ociManifestDigest reads the one manifest an OCI layout's index.json names.
func ociManifestDigest(t *testing.T, layout string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatalf("%s/index.json: %v", layout, err)
	}
	if len(index.Manifests) != 1 || !strings.HasPrefix(index.Manifests[0].Digest, "sha256:") {
		t.Fatalf("%s/index.json names %d manifests, want one:\n%s", layout, len(index.Manifests), b)
	}
	return index.Manifests[0].Digest
}

// isStaticELF reports whether an ELF file has no program interpreter
// (PT_INTERP), i.e. is statically linked.
func isStaticELF(b []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
