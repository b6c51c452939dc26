package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBuildFolderOutputsOnlyWhenPassed: folder outputs (type=local, and an
// OCI layout with tar=false) appear only when the whole build passed. A
// build that fails after BuildKit exported (its --report cannot be
// written) leaves no destination, where BuildKit used to write straight
// into it; a passing one adds its files to an existing folder as BuildKit
// does, and leaves nothing beside it.
func TestBuildFolderOutputsOnlyWhenPassed(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	out := t.TempDir()
	local, layout := filepath.Join(out, "rootfs"), filepath.Join(out, "layout")
	outputs := []string{"-o", "type=local,dest=" + local, "-o", "type=oci,tar=false,dest=" + layout}

	r := e.build(t, dir, append(outputs, "--report", filepath.Join(out, "missing", "scan.json"))...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "scan.json") {
		t.Fatalf("a build whose report cannot be written: exit %d, want a failure naming the report\n%s", r.Code, r.Stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("the failed build left %v in the output folder", names(entries))
	}

	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(local, "mine"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.build(t, dir, outputs...)
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	if b, err := os.ReadFile(filepath.Join(local, "app", "artifact")); err != nil || string(b) != "built\n" {
		t.Errorf("type=local: /app/artifact = %q, %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(local, "mine")); string(b) != "kept" {
		t.Errorf("type=local dropped a file the folder held before: %q", b)
	}
	var index struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err == nil {
		err = json.Unmarshal(b, &index)
	}
	if err != nil || len(index.Manifests) != 1 {
		t.Fatalf("tar=false: index.json %s: %v", b, err)
	}
	blob := filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(index.Manifests[0].Digest, "sha256:"))
	if _, err := os.Stat(blob); err != nil {
		t.Errorf("tar=false: the image's blob is missing: %v", err)
	}
	for _, d := range []string{out, local, layout} {
		entries, _ := os.ReadDir(d)
		for _, n := range names(entries) {
			if strings.HasSuffix(n, ".tmp") {
				t.Errorf("staging folder %s left in %s", n, d)
			}
		}
	}
}

// TestBuildInterruptLeavesNoFolderOutput: Ctrl-C (SIGINT to the plugin)
// while BuildKit writes a type=local output leaves no destination, not a
// half-written one.
func TestBuildInterruptLeavesNoFolderOutput(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	// A final stage big enough that its export takes a while.
	dir := e.project(t, "FROM {{base}}\nRUN /bin/busybox head -c 268435456 /dev/zero > /big\n", map[string]string{})
	out := t.TempDir()
	cmd := exec.Command(binary, "build", "--progress", "plain", "--db", e.db, "-o", "type=local,dest="+filepath.Join(out, "rootfs"), dir)
	cmd.Env = append(os.Environ(), "BUILDKIT_HOST="+e.bk.Addr, "XDG_CACHE_HOME="+e.cache)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The export has begun when a file appears in a folder of the output
	// folder: the destination itself, or the folder it is staged in.
	deadline := time.Now().Add(3 * time.Minute)
	for !exporting(out) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the export did not start:\n%s", stderr.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("the build ended before the export: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	interrupted := time.Now()
	select {
	case err := <-exited:
		t.Logf("exited %v %s after SIGINT", err, time.Since(interrupted).Round(time.Millisecond))
		if err == nil {
			t.Fatalf("the export finished before SIGINT took effect: make the stage bigger\n%s", stderr.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the build did not stop within a minute of SIGINT:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "build canceled") {
		t.Errorf("an interrupted build does not say it was canceled:\n%s", stderr.String())
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("an interrupted build left %v in the output folder", names(entries))
	}
}

// exporting says whether some folder in dir has an entry.
func exporting(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if inside, _ := os.ReadDir(filepath.Join(dir, e.Name())); len(inside) > 0 {
			return true
		}
	}
	return false
}

func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}
