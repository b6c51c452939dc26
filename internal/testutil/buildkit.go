package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BuildKitBinaries returns the buildkitd and buildctl that scripts/test.sh
// builds from the go.mod-pinned BuildKit (SECURE_BUILD_BUILDKITD and
// SECURE_BUILD_BUILDCTL). A missing one, runc missing, or not being root
// skips the test (fails it under SECURE_BUILD_E2E=1).
func BuildKitBinaries(t testing.TB) (buildkitd, buildctl string) {
	t.Helper()
	if os.Geteuid() != 0 {
		RequireE2E(t, "buildkitd with the OCI worker needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		RequireE2E(t, "runc is not installed (apt-get install runc)")
	}
	paths := make([]string, 2)
	for i, env := range []string{"SECURE_BUILD_BUILDKITD", "SECURE_BUILD_BUILDCTL"} {
		paths[i] = os.Getenv(env)
		if paths[i] == "" {
			RequireE2E(t, "%s is not set (scripts/lib.sh build_buildkit sets it)", env)
		}
		if _, err := os.Stat(paths[i]); err != nil {
			RequireE2E(t, "%s=%s: %v", env, paths[i], err)
		}
	}
	return paths[0], paths[1]
}

// BuildKit is a private buildkitd (OCI worker, runc) run as root.
type BuildKit struct {
	Addr     string // unix://.../buildkitd.sock, for buildctl --addr and BUILDKIT_HOST
	Buildctl string
	dir      string // state, socket, config and log; short, for the socket path
	daemon   *daemon
}

// StartBuildKit starts a buildkitd of the test's own, stopped when the test
// ends. plainHTTP names registries ("127.0.0.1:PORT") it pulls from and
// pushes to over plain HTTP, such as a Registry's Addr.
func StartBuildKit(t testing.TB, plainHTTP ...string) *BuildKit {
	t.Helper()
	buildkitd, buildctl := BuildKitBinaries(t)
	start := time.Now()
	bk, err := NewBuildKit(buildkitd, buildctl, plainHTTP...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("buildkitd log (end):\n%s", bk.daemon.tail(80))
		}
		if msg := bk.Close(); msg != "" {
			t.Log(msg)
		}
	})
	t.Logf("buildkitd up at %s in %s", bk.Addr, time.Since(start).Round(time.Millisecond))
	return bk
}

// NewBuildKit starts a buildkitd with its state and socket in a fresh
// folder and waits until it answers; Close stops it and removes the folder.
func NewBuildKit(buildkitd, buildctl string, plainHTTP ...string) (*BuildKit, error) {
	// A unix socket path is limited to about 108 bytes: a test's TempDir can
	// be longer.
	dir, err := os.MkdirTemp("", "bk")
	if err != nil {
		return nil, err
	}
	bk := &BuildKit{Addr: "unix://" + filepath.Join(dir, "buildkitd.sock"), Buildctl: buildctl, dir: dir}
	// Always a config of our own, so that a machine's
	// /etc/buildkit/buildkitd.toml cannot change the test.
	var config strings.Builder
	for _, host := range plainHTTP {
		fmt.Fprintf(&config, "[registry.%q]\n  http = true\n  insecure = true\n", host)
	}
	configPath := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(configPath, []byte(config.String()), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	bk.daemon, err = startDaemon("buildkitd", filepath.Join(dir, "buildkitd.log"), nil, buildkitd,
		"--config", configPath,
		"--root", filepath.Join(dir, "state"),
		"--addr", bk.Addr,
		"--oci-worker=true", "--containerd-worker=false",
	)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	err = bk.daemon.waitReady(60*time.Second, func() error {
		out, err := exec.Command(buildctl, "--addr", bk.Addr, "debug", "workers").CombinedOutput()
		if err != nil {
			return fmt.Errorf("buildctl debug workers: %v: %s", err, bytes.TrimSpace(out))
		}
		return nil
	})
	if err != nil {
		bk.Close()
		return nil, err
	}
	return bk, nil
}

// Close stops buildkitd and removes its folder; it returns what went wrong,
// for the log.
func (bk *BuildKit) Close() string {
	msg := bk.daemon.stop(20 * time.Second)
	if err := os.RemoveAll(bk.dir); err != nil {
		msg += fmt.Sprintf(" remove %s: %v", bk.dir, err)
	}
	return msg
}

// Build runs buildctl build against this daemon with plain progress and
// fails the test on error, with buildctl's output, which it returns.
func (bk *BuildKit) Build(t testing.TB, args ...string) string {
	t.Helper()
	r := Run(t, nil, bk.Buildctl, append([]string{"--addr", bk.Addr, "build", "--progress", "plain"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("buildctl build %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout + r.Stderr
}

// Result is what a command printed and its exit status.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs a command with env added to this process's, and returns its
// output and exit status; only a failure to start it fails the test.
func Run(t testing.TB, env []string, name string, args ...string) Result {
	t.Helper()
	return RunWithStdin(t, env, nil, name, args...)
}

// RunWithStdin is Run with stdin as the command's standard input.
func RunWithStdin(t testing.TB, env []string, stdin io.Reader, name string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
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
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

// Push builds the Dockerfile in dockerfileDir with contextDir as its
// context with plain BuildKit, no secure-build, and pushes the result as
// ref; exportOpts are more options of the image exporter.
func (bk *BuildKit) Push(t testing.TB, ref, contextDir, dockerfileDir string, exportOpts ...string) PushedImage {
	t.Helper()
	metadata := filepath.Join(t.TempDir(), "metadata.json")
	bk.Build(t,
		"--frontend", "dockerfile.v0",
		"--local", "context="+contextDir, "--local", "dockerfile="+dockerfileDir,
		"--output", strings.Join(append([]string{"type=image", "name=" + ref, "push=true", "registry.insecure=true"}, exportOpts...), ","),
		"--metadata-file", metadata,
	)
	b, err := os.ReadFile(metadata)
	if err != nil {
		t.Fatalf("push %s: buildctl metadata: %v", ref, err)
	}
	var md struct {
		Digest string `json:"containerimage.digest"`
	}
	if err := json.Unmarshal(b, &md); err != nil || !strings.HasPrefix(md.Digest, "sha256:") {
		t.Fatalf("push %s: buildctl metadata names no containerimage.digest (%v):\n%s", ref, err, b)
	}
	return PushedImage{Ref: ref, Digest: md.Digest}
}
