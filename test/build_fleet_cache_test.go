package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fleetReport is what the fleet test reads of a --report-format json
// report.
type fleetReport struct {
	ScannedAt time.Time `json:"scannedAt"`
	Database  struct {
		Updated map[string]time.Time `json:"updated"`
		Stale   string               `json:"stale"`
	} `json:"database"`
	Findings []fleetFinding `json:"findings"`
}

type fleetFinding struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases"`
}

func readFleetReport(t *testing.T, path string) fleetReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r fleetReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return r
}

func (r fleetReport) has(id string) bool {
	return slices.ContainsFunc(r.Findings, func(f fleetFinding) bool {
		return f.ID == id || slices.Contains(f.Aliases, id)
	})
}

// vertexLines are the plain-progress lines of the vertex named name,
// without their "#N " prefix; nil when the progress has no such vertex.
func vertexLines(progress, name string) []string {
	m := regexp.MustCompile(`(?m)^#(\d+) ` + regexp.QuoteMeta(name) + `$`).FindStringSubmatch(progress)
	if m == nil {
		return nil
	}
	lines := []string{}
	for _, l := range strings.Split(progress, "\n") {
		if rest, ok := strings.CutPrefix(l, "#"+m[1]+" "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// scanStepFromCache reports whether plain progress shows the scan step's
// result taken from a cache, not made by running the scanner: CACHED from
// the builder's own cache, or its result layer pulled ("extracting
// sha256:...") from an imported one (--cache-from), which BuildKit does
// not mark CACHED.
func scanStepFromCache(t *testing.T, progress string) bool {
	t.Helper()
	lines := vertexLines(progress, "[secure-build linux/amd64] scan the final stage")
	if lines == nil {
		t.Fatalf("no scan step in the progress:\n%s", progress)
	}
	return slices.ContainsFunc(lines, func(l string) bool {
		return l == "CACHED" || strings.HasPrefix(l, "extracting sha256:")
	})
}

// fleetRecord is an OSV record written for this test: leftpad below 1.0.1
// has a high, fixable finding.
const (
	fleetRecordID = "GHSA-test-flt-0001"
	fleetRecord   = `{
  "id": "` + fleetRecordID + `",
  "modified": "2024-01-01T00:00:00Z",
  "summary": "written for the tests: one more record in the database of builder B",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
  "database_specific": {"severity": "HIGH"},
  "affected": [
    {
      "package": {"ecosystem": "npm", "name": "leftpad"},
      "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]
    }
  ]
}
`
)

// TestBuildFleetScansOnce: a CI fleet scans an image once. Builder A, cold,
// scans and exports its cache to a registry (--cache-to mode=max); builder
// B, another fresh buildkitd, imports it (--cache-from) and takes the scan
// step from it instead of running the scanner, yet makes its own verdict
// from the cached findings with its own policy and today's database age,
// and is sent neither the scanner nor the database. A database that changed
// on B makes B scan again. A mode=min cache carries the scan step as well.
func TestBuildFleetScansOnce(t *testing.T) {
	t.Parallel()
	// Two buildkitds of the test's own: each must start cold, and B must
	// have nothing of A's but what it imports from the registry.
	bkA, bkB := ownBuildKit(t), ownBuildKit(t)
	a := newBuildEnvOn(t, bkA)
	dir := a.project(t, multiStage, map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
		"node_modules/leftpad/package.json":  npmPackage("leftpad", "1.0.0"),
	})
	// B is another runner: its own scanner cache and its own copy of the
	// same database content (as a fleet gets it: one artifact or image,
	// not an update on each runner).
	b := &buildEnv{bk: bkB, reg: a.reg, base: a.base, db: filepath.Join(t.TempDir(), "db"), cache: t.TempDir()}
	if out, err := exec.Command("cp", "-r", a.db, b.db).CombinedOutput(); err != nil {
		t.Fatalf("copy the database for builder B: %v\n%s", err, out)
	}
	cacheRef := a.reg.Ref("cache:app")
	reports := t.TempDir()
	reportA, reportB := filepath.Join(reports, "a.json"), filepath.Join(reports, "b.json")

	// 1. A scans and exports the build's cache, the scan step's included.
	// Its pipeline only reports (--fail-on none): a build the policy fails
	// exports nothing, its cache included.
	start := time.Now()
	ra := a.build(t, dir, "--fail-on", "none",
		"--cache-to", "type=registry,ref="+cacheRef+",mode=max",
		"--report", reportA, "--report-format", "json")
	coldA := time.Since(start)
	if ra.Code != 0 {
		t.Fatalf("builder A: exit %d\n%s", ra.Code, ra.Stderr)
	}
	if scanStepFromCache(t, ra.Stderr) {
		t.Fatalf("builder A, cold, took its scan step from a cache:\n%s", ra.Stderr)
	}
	if !a.reg.HasTag(t, "cache", "app") {
		t.Fatalf("builder A exported no cache to %s:\n%s", cacheRef, ra.Stderr)
	}
	repA := readFleetReport(t, reportA)
	if !repA.has(fixableCriticalID) {
		t.Fatalf("builder A's report has no %s: %+v", fixableCriticalID, repA.Findings)
	}

	// B's database age must read as B's, not as A's when it scanned: B
	// starts a few seconds after A's scan ended.
	if d := time.Until(repA.ScannedAt.Add(3 * time.Second)); d > 0 {
		time.Sleep(d)
	}

	// 2. B, cold, imports A's cache: the scan step is cached.
	startB := time.Now()
	rb := b.build(t, dir, "--cache-from", "type=registry,ref="+cacheRef,
		"--max-db-age", "1s", "--report", reportB, "--report-format", "json")
	coldB := time.Since(startB)
	prep := "?"
	if m := regexp.MustCompile(`preparing build cache for export (\S+) done`).FindStringSubmatch(ra.Stderr); m != nil {
		prep = m[1]
	}
	t.Logf("cold builds: A scans and exports its cache (mode=max) in %s, %s of it preparing the export; B imports it and takes the scan from it in %s (B/A %.2fx)",
		coldA.Round(10*time.Millisecond), prep, coldB.Round(10*time.Millisecond), coldB.Seconds()/coldA.Seconds())
	if !scanStepFromCache(t, rb.Stderr) {
		t.Errorf("builder B ran the scan step although A's cache has it:\n%s", rb.Stderr)
	}
	// Nor was B sent the scanner or the database: the plugin serves them
	// as images named by their content, which B needs only to run the
	// step. (A, cold, was sent both.)
	if !scannerSent(ra.Stderr) || !contextSent(ra.Stderr, "secure-build-db") {
		t.Errorf("builder A, cold, was not sent the scanner and the database:\n%s", ra.Stderr)
	}
	if scannerSent(rb.Stderr) || contextSent(rb.Stderr, "secure-build-db") {
		t.Errorf("builder B was sent the scanner or the database, although it takes the scan step from the cache:\n%s", rb.Stderr)
	}
	repB := readFleetReport(t, reportB)
	// The step's result holds the time the scanner ended: B's is A's, from
	// before B started, so B's scanner never ran.
	if !repB.ScannedAt.Equal(repA.ScannedAt) || !repB.ScannedAt.Before(startB) {
		t.Errorf("builder B's scan ended at %s, A's at %s, B started at %s: want A's scan, taken from the cache",
			repB.ScannedAt, repA.ScannedAt, startB.UTC().Format(time.RFC3339))
	}

	// 3. B makes its own verdict: its default policy fails on the fixable
	// critical A's scan found, with status 3 and the findings.
	if rb.Code != 3 {
		t.Errorf("builder B: exit %d, want 3 (the default policy fails on %s)\n%s", rb.Code, fixableCriticalID, rb.Stderr)
	}
	for _, want := range []string{
		"secure-build policy failed for linux/amd64",
		"critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6",
	} {
		if !strings.Contains(rb.Stderr, want) {
			t.Errorf("builder B does not show %q:\n%s", want, rb.Stderr)
		}
	}
	if !regexp.MustCompile(`(?m)^secure-build linux/amd64: critical: 1 fixable of 1\b.*; \d+ packages; database [^;]+ old$`).MatchString(rb.Stderr) {
		t.Errorf("builder B prints no verdict line with the counts and the database age:\n%s", rb.Stderr)
	}
	// Today's database age, made at B's verdict: --max-db-age 1s makes it
	// stale, and the warning says how old, to the second.
	var updated time.Time
	for _, u := range repB.Database.Updated {
		if updated.IsZero() || u.Before(updated) {
			updated = u
		}
	}
	m := regexp.MustCompile(`last updated (\S+) ago`).FindStringSubmatch(repB.Database.Stale)
	if m == nil || updated.IsZero() {
		t.Fatalf("builder B's report says no database age (updated %v, stale %q)", repB.Database.Updated, repB.Database.Stale)
	}
	age, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("builder B's database age %q: %v", m[1], err)
	}
	if least, most := startB.Sub(updated)-time.Second, time.Since(updated)+time.Second; age < least || age > most {
		t.Errorf("builder B says the database is %s old; at B's build it was %s to %s old (at A's scan, %s)",
			age, least, most, repA.ScannedAt.Sub(updated))
	}
	if !strings.Contains(rb.Stderr, "was last updated "+m[1]+" ago") {
		t.Errorf("builder B does not warn that the database is %s old:\n%s", m[1], rb.Stderr)
	}

	// mode=min carries the scan step too: its result is part of the
	// build's result. A exports it (warm, so cheaply); a third fresh
	// builder takes the scan from it.
	minRef := a.reg.Ref("cache:app-min")
	if r := a.build(t, dir, "--fail-on", "none", "--cache-to", "type=registry,ref="+minRef+",mode=min"); r.Code != 0 {
		t.Fatalf("builder A, mode=min: exit %d\n%s", r.Code, r.Stderr)
	}
	c := &buildEnv{bk: ownBuildKit(t), reg: b.reg, base: b.base, db: b.db, cache: t.TempDir()}
	if r := c.build(t, dir, "--cache-from", "type=registry,ref="+minRef); r.Code != 3 || !scanStepFromCache(t, r.Stderr) {
		t.Errorf("builder C with A's mode=min cache: exit %d (want 3), the scan step taken from the cache: %v\n%s", r.Code, scanStepFromCache(t, r.Stderr), r.Stderr)
	}

	// 4. One more record in B's database: B scans again, even with A's
	// cache, and finds it.
	extra := filepath.Join(t.TempDir(), "npm")
	if err := os.MkdirAll(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(extra, fleetRecordID+".json"), []byte(fleetRecord), 0o644); err != nil {
		t.Fatal(err)
	}
	b.importDB(t, "../vuln/testdata/osv/npm", extra)
	rc := b.build(t, dir, "--cache-from", "type=registry,ref="+cacheRef)
	if scanStepFromCache(t, rc.Stderr) {
		t.Errorf("builder B took the scan step from the cache although its database changed:\n%s", rc.Stderr)
	}
	if rc.Code != 3 {
		t.Errorf("builder B after the database change: exit %d, want 3\n%s", rc.Code, rc.Stderr)
	}
	for _, want := range []string{
		"high " + fleetRecordID + " in leftpad 1.0.0 -> 1.0.1",
		"critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6",
	} {
		if !strings.Contains(rc.Stderr, want) {
			t.Errorf("builder B after the database change does not show %q:\n%s", want, rc.Stderr)
		}
	}
}
