package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildBaseAdvice: a build FROM a pinned base whose tag was pushed
// again with a fix prints one line of base advice after its verdict (the
// refresh and the best later tag, with what they fix) and keeps it in the
// JSON report; inspect --base-advice of the pushed image says the same from
// its base annotations; base-image.refresh: fail makes the stale build fail,
// before anything is pushed.
func TestBuildBaseAdvice(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	e.importDB(t, libfooRecords(t))
	debian := "ID=debian\nVERSION_ID=12\n"
	day := func(n int) time.Time { return time.Date(2024, 2, n, 0, 0, 0, 0, time.UTC) }
	old := e.reg.Push(t, "app:1.0", libfooImage(t, debian, "1.0", 0, day(1)))
	e.reg.Push(t, "app:1.1", libfooImage(t, debian, "1.1", 0, day(2)))
	e.reg.Push(t, "app:1.0", libfooImage(t, debian, "1.1", 1, day(3))) // refreshed: fixes the critical

	// The critical finding is tolerated, so the build passes and it gates.
	tolerant := "vulnerabilities:\n  fail-on: critical\n  max-counts: {critical: 1}\n"
	dockerfile := "FROM " + old.Pinned() + "\nCOPY hello /hello\n"
	report := filepath.Join(t.TempDir(), "report.json")
	dir := e.project(t, dockerfile, map[string]string{"hello": "hi\n", "secure-build.yaml": tolerant})
	pushed := e.reg.Ref("fresh:1")
	r := e.build(t, dir, "--report", report, "--report-format", "json", "-t", pushed, "--push")
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	want := "base " + e.reg.Ref("app:1.0") + ": refresh available, fixes 1 critical"
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("build output lacks %q:\n%s", want, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "update 1.1 (minor) fixes 1 critical") {
		t.Errorf("build output lacks the update:\n%s", r.Stderr)
	}
	if b, err := os.ReadFile(report); err != nil || !strings.Contains(string(b), "refresh available, fixes 1 critical") {
		t.Errorf("JSON report lacks the advice (%v):\n%s", err, b)
	}

	// The pushed image names its base in its manifest: inspect advises on it.
	r = runCmd(t, []string{"XDG_CACHE_HOME=" + e.cache}, binary, "inspect", "--base-advice", "--db", e.db, pushed)
	if r.Code != 0 || !strings.Contains(r.Stdout, ": "+want) {
		t.Errorf("inspect --base-advice: exit %d, want a line %q\n%s%s", r.Code, want, r.Stdout, r.Stderr)
	}

	strict := tolerant + "base-image:\n  refresh: fail\n"
	dir = e.project(t, dockerfile, map[string]string{"hello": "hi\n", "secure-build.yaml": strict})
	r = e.build(t, dir, "-t", e.reg.Ref("stale:1"), "--push")
	if r.Code != 3 || !strings.Contains(r.Stderr, "base-image.refresh") || !strings.Contains(r.Stderr, "rebuild with --pull") {
		t.Errorf("stale build with refresh: fail: exit %d, want 3 naming the rule\n%s", r.Code, r.Stderr)
	}
	if w := e.reg.Writes("stale"); len(w) > 0 {
		t.Errorf("a stale build pushed: %v", w)
	}
}
