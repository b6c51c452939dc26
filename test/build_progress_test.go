package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/secure-build/secure-build/internal/testutil"
)

// runInTerminal runs a command with a pseudo-terminal of 120x40 as its
// stdin, stdout and stderr, as in an interactive shell, and returns what the
// terminal received and the exit status.
func runInTerminal(t *testing.T, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	terminal, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatalf("start %s in a pseudo-terminal: %v", name, err)
	}
	defer terminal.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// Ends with EIO once the command and its children closed the terminal.
		_, _ = io.Copy(&out, terminal)
	}()
	err = cmd.Wait()
	<-copied
	code := 0
	if err != nil {
		exitErr, ok := errors.AsType[*exec.ExitError](err)
		if !ok {
			t.Fatalf("run %s %v: %v", name, args, err)
		}
		code = exitErr.ExitCode()
	}
	return out.String(), code
}

// csiCommands are the kinds of ANSI control sequences (ESC [ ... letter)
// an output holds, such as "A" (cursor up), "K" (erase line) and "m" (colour).
func csiCommands(s string) map[string]bool {
	kinds := map[string]bool{}
	for _, m := range regexp.MustCompile(`\x1b\[[0-9;?]*([A-Za-z])`).FindAllStringSubmatch(s, -1) {
		kinds[m[1]] = true
	}
	return kinds
}

// ttyHeader is the first line of BuildKit's TTY display, redrawn as the
// build goes: "[+] Building 1.2s (9/9)", with FINISHED on its last frame.
// The last frame is not required: under load the pseudo-terminal has been
// seen to end before buildx's last frame was read.
var ttyHeader = regexp.MustCompile(`\[\+\] Building [0-9.]+s \(\d+/\d+\)`)

// TestBuildProgressTTY: in a terminal, "docker secure build" run by the real
// docker CLI shows BuildKit's TTY display, as "docker buildx build" does on
// the same builder in the same terminal, for --progress auto and tty; plain
// progress when the output is not a terminal, and --progress tty refused
// there as buildx refuses it.
func TestBuildProgressTTY(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	env := append(pluginConfig(t), "XDG_CACHE_HOME="+e.cache)
	testutil.CreateRemoteBuilder(t, env, "kit", e.bk.Addr)
	dir := e.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	out := t.TempDir()

	buildx, code := runInTerminal(t, env, "docker", "buildx", "build", "--builder", "kit", "--progress", "tty",
		"-o", "type=oci,dest="+filepath.Join(out, "buildx.tar"), dir)
	if code != 0 || !ttyHeader.MatchString(buildx) {
		t.Fatalf("the baseline, docker buildx build in a terminal: exit %d, no TTY display:\n%q", code, buildx)
	}
	for _, progress := range []string{"auto", "tty"} {
		secure, code := runInTerminal(t, env, "docker", "secure", "build", "--builder", "kit", "--progress", progress,
			"--db", e.db, "-o", "type=oci,dest="+filepath.Join(out, progress+".tar"), dir)
		if code != 0 {
			t.Fatalf("--progress %s in a terminal: exit %d\n%q", progress, code, secure)
		}
		if !ttyHeader.MatchString(secure) || strings.Contains(secure, "\n#1 ") {
			t.Errorf("--progress %s in a terminal: not BuildKit's TTY display:\n%q", progress, secure)
		}
		want, got := csiCommands(buildx), csiCommands(secure)
		for kind := range want {
			if !got[kind] {
				t.Errorf("--progress %s in a terminal: no ESC[...%s sequence, which buildx's display has (buildx %v, ours %v)", progress, kind, want, got)
			}
		}
		if !strings.Contains(secure, "scan the final stage") || !strings.Contains(secure, "PASS") {
			t.Errorf("--progress %s in a terminal: the scan step or the verdict is missing:\n%q", progress, secure)
		}
	}

	res := runCmd(t, env, "docker", "secure", "build", "--builder", "kit", "--progress", "auto", "--db", e.db, dir)
	if res.Code != 0 || !strings.Contains(res.Stderr, "#1 ") || strings.Contains(res.Stderr, "\x1b[") {
		t.Errorf("--progress auto without a terminal: exit %d, want plain progress without ANSI sequences:\n%s", res.Code, res.Stderr)
	}
	res = runCmd(t, env, "docker", "secure", "build", "--builder", "kit", "--progress", "tty", "--db", e.db, dir)
	if res.Code == 0 || !strings.Contains(res.Stderr, "--progress") || !strings.Contains(res.Stderr, "console") {
		t.Errorf("--progress tty without a terminal: exit %d, want it refused naming --progress:\n%s", res.Code, res.Stderr)
	}
}

// TestBuildQuietPrintsImageID: as docker buildx build, --progress quiet and
// -q show no progress and print the image ID (the one --iidfile holds)
// alone on stdout; --progress none prints nothing there;
// -q with another progress is refused.
func TestBuildQuietPrintsImageID(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	out := t.TempDir()
	build := func(args ...string) result {
		full := append([]string{"build", "--db", e.db, "-o", "type=oci,dest=" + filepath.Join(out, "app.tar")}, args...)
		return runCmd(t, []string{"BUILDKIT_HOST=" + e.bk.Addr, "XDG_CACHE_HOME=" + e.cache}, binary, append(full, dir)...)
	}

	iidFile, metadataFile := filepath.Join(out, "iid"), filepath.Join(out, "metadata.json")
	for _, args := range [][]string{{"--progress", "quiet"}, {"-q"}, {"--quiet", "--progress", "auto"}} {
		r := build(append(args, "--iidfile", iidFile, "--metadata-file", metadataFile)...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.Code, r.Stderr)
		}
		var metadata map[string]any
		b, err := os.ReadFile(metadataFile)
		if err == nil {
			err = json.Unmarshal(b, &metadata)
		}
		if err != nil {
			t.Fatalf("%v: --metadata-file: %v", args, err)
		}
		iid, err := os.ReadFile(iidFile)
		if err != nil {
			t.Fatal(err)
		}
		// buildx's image ID: the config digest, or, for an image index,
		// the index's digest.
		id, _ := metadata["containerimage.digest"].(string)
		if config, ok := metadata["containerimage.config.digest"].(string); ok {
			id = config
		}
		if !strings.HasPrefix(id, "sha256:") || r.Stdout != id+"\n" || string(iid) != id {
			t.Errorf("%v: stdout %q, iidfile %q; want the image ID %q in both", args, r.Stdout, iid, id)
		}
		if strings.Contains(r.Stderr, "#1 ") || strings.Contains(r.Stderr, "building with") {
			t.Errorf("%v: progress shown:\n%s", args, r.Stderr)
		}
	}

	if r := build("--progress", "none"); r.Code != 0 || r.Stdout != "" || strings.Contains(r.Stderr, "#1 ") {
		t.Errorf("--progress none: exit %d, stdout %q, want nothing on stdout and no progress:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := build("-q", "--progress", "plain"); r.Code != 2 && r.Code != 1 || !strings.Contains(r.Stderr, "--quiet") {
		t.Errorf("-q --progress plain: exit %d, want it refused naming --quiet:\n%s", r.Code, r.Stderr)
	}
}
