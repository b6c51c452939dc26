package test

import (
	"regexp"
	"strings"
	"testing"
)

// scanStepCached reports whether plain progress shows the scan step as
// taken from the cache.
func scanStepCached(t *testing.T, progress string) bool {
	t.Helper()
	m := regexp.MustCompile(`#(\d+) \[secure-build linux/amd64\] scan the final stage`).FindStringSubmatch(progress)
	if m == nil {
		t.Fatalf("no scan step in the progress:\n%s", progress)
	}
	return strings.Contains(progress, "#"+m[1]+" CACHED")
}

// TestBuildCachedScanStillReports: an identical second build takes the scan
// step from BuildKit's cache, yet shows the findings and the verdict again;
// a changed database makes the step run again.
func TestBuildCachedScanStillReports(t *testing.T) {
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/listed/package.json": npmPackage("listed", "2.0.1"),
	})
	first := e.build(t, dir)
	if first.code != 0 {
		t.Fatalf("first build: exit %d\n%s", first.code, first.stderr)
	}
	if scanStepCached(t, first.stderr) {
		t.Fatalf("the first build's scan step was cached:\n%s", first.stderr)
	}

	second := e.build(t, dir)
	if second.code != 0 {
		t.Fatalf("second build: exit %d\n%s", second.code, second.stderr)
	}
	if !scanStepCached(t, second.stderr) {
		t.Errorf("the identical second build ran the scan step again:\n%s", second.stderr)
	}
	for _, want := range []string{unfixedCriticalID + " in listed 2.0.1", "secure-build linux/amd64: PASS", "critical: 0 fixable of 1"} {
		if !strings.Contains(second.stderr, want) {
			t.Errorf("the cached scan does not show %q:\n%s", want, second.stderr)
		}
	}

	// The policy is applied on every build: a stricter one fails the same
	// cached scan.
	strict := e.build(t, dir, "--only-fixable=false")
	if strict.code != 1 || !strings.Contains(strict.stderr, unfixedCriticalID+" in listed 2.0.1 -> no fix yet") {
		t.Errorf("--only-fixable=false on the cached scan: exit %d, want 1 naming %s\n%s", strict.code, unfixedCriticalID, strict.stderr)
	}
	if !scanStepCached(t, strict.stderr) {
		t.Errorf("changing the policy ran the scan step again:\n%s", strict.stderr)
	}

	// New data: the same records plus Debian's. The step must run again.
	e.importDB(t, "../vuln/testdata/osv/npm", "../vuln/testdata/osv/Debian")
	third := e.build(t, dir)
	if third.code != 0 {
		t.Fatalf("build after a database change: exit %d\n%s", third.code, third.stderr)
	}
	if scanStepCached(t, third.stderr) {
		t.Errorf("the scan step was cached although the database changed:\n%s", third.stderr)
	}
}
