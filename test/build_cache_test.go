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
	t.Parallel()
	// A buildkitd of its own: whether the scan step is cached depends on
	// every build its daemon ran before.
	e := newBuildEnvOn(t, ownBuildKit(t))
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/listed/package.json": npmPackage("listed", "2.0.1"),
	})
	first := e.build(t, dir)
	if first.Code != 0 {
		t.Fatalf("first build: exit %d\n%s", first.Code, first.Stderr)
	}
	if scanStepCached(t, first.Stderr) {
		t.Fatalf("the first build's scan step was cached:\n%s", first.Stderr)
	}

	second := e.build(t, dir)
	if second.Code != 0 {
		t.Fatalf("second build: exit %d\n%s", second.Code, second.Stderr)
	}
	if !scanStepCached(t, second.Stderr) {
		t.Errorf("the identical second build ran the scan step again:\n%s", second.Stderr)
	}
	for _, want := range []string{unfixedCriticalID + " in listed 2.0.1", "secure-build linux/amd64: PASS", "critical: 0 fixable of 1"} {
		if !strings.Contains(second.Stderr, want) {
			t.Errorf("the cached scan does not show %q:\n%s", want, second.Stderr)
		}
	}

	// The policy is applied on every build: a stricter one fails the same
	// cached scan.
	strict := e.build(t, dir, "--only-fixable=false")
	if strict.Code != 3 || !strings.Contains(strict.Stderr, unfixedCriticalID+" in listed 2.0.1 -> no fix yet") {
		t.Errorf("--only-fixable=false on the cached scan: exit %d, want 3 naming %s\n%s", strict.Code, unfixedCriticalID, strict.Stderr)
	}
	if !scanStepCached(t, strict.Stderr) {
		t.Errorf("changing the policy ran the scan step again:\n%s", strict.Stderr)
	}

	// New data: the same records plus Debian's. The step must run again.
	e.importDB(t, "../vuln/testdata/osv/npm", "../vuln/testdata/osv/Debian")
	third := e.build(t, dir)
	if third.Code != 0 {
		t.Fatalf("build after a database change: exit %d\n%s", third.Code, third.Stderr)
	}
	if scanStepCached(t, third.Stderr) {
		t.Errorf("the scan step was cached although the database changed:\n%s", third.Stderr)
	}
}
