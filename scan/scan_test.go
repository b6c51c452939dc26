package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// testDB opens a database of the npm records of vuln's testdata.
func testDB(t *testing.T) *vuln.DB {
	t.Helper()
	dir := t.TempDir()
	if _, err := vuln.Import(t.Context(), dir, []vuln.Source{{Path: "../vuln/testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	db, err := vuln.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRun: a root with a fixable critical and an unfixed one fails the
// default policy on the fixable one only, and the report says what was
// scanned and with which data.
func TestRun(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		"app/node_modules/minimist/package.json": `{"name":"minimist","version":"1.2.5"}`,
		"app/node_modules/listed/package.json":   `{"name":"listed","version":"2.0.1"}`,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := testDB(t)
	rep, err := Run(t.Context(), root, db, policy.Defaults(), Options{Database: db.Dir(), MaxDBAge: vuln.DefaultMaxAge, ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Target != root || len(rep.SBOM.Packages) != 2 || len(rep.Findings) < 2 {
		t.Errorf("target %q, %d packages, %d findings; want the root's 2 packages and their findings", rep.Target, len(rep.SBOM.Packages), len(rep.Findings))
	}
	if v := rep.Verdict; v.Pass || len(v.Failing) != 1 || v.Failing[0].ID != "CVE-2021-44906" {
		t.Errorf("verdict %+v, want a failure on minimist's fixable CVE-2021-44906 alone", v)
	}
	if rep.Database.Dir != db.Dir() || !rep.Database.Updated["npm"].Equal(db.Oldest()) || rep.Database.Stale != "" || rep.ToolVersion != "test" {
		t.Errorf("database %+v, tool %q", rep.Database, rep.ToolVersion)
	}
}

// TestEvaluateNow: the verdict is made at Options.Now, so an ignore entry
// that has expired since the packages were matched no longer suppresses,
// and the report keeps when they were matched.
func TestEvaluateNow(t *testing.T) {
	minimist := vuln.Finding{ID: "CVE-2021-44906", Severity: vuln.Critical, FixedVersion: "1.2.6",
		Package: vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5"}}
	m := &Matched{SBOM: &sbom.SBOM{Source: "root"}, Findings: []vuln.Finding{minimist}}
	pol, err := policy.Parse("secure-build.yaml", []byte("vulnerabilities:\n  ignore:\n    - id: CVE-2021-44906\n      reason: not reachable\n      expires: 2026-01-01\n"))
	if err != nil {
		t.Fatal(err)
	}
	matched := time.Date(2025, 12, 31, 10, 0, 0, 500, time.UTC)
	before := Evaluate(m, pol, Options{Now: matched})
	after := Evaluate(m, pol, Options{Now: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), ScannedAt: matched})
	if !before.Verdict.Pass || len(before.Verdict.Suppressed) != 1 {
		t.Errorf("before the expiry: %+v, want a pass with the finding suppressed", before.Verdict)
	}
	if after.Verdict.Pass || len(after.Verdict.Suppressed) != 0 {
		t.Errorf("after the expiry: %+v, want a failure", after.Verdict)
	}
	if !after.ScannedAt.Equal(matched.Truncate(time.Second)) {
		t.Errorf("scanned at %v, want when the packages were matched, %v", after.ScannedAt, matched)
	}
}

func TestStaleness(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	updated := map[string]time.Time{"npm": now.Add(-time.Hour), "Debian": now.Add(-10 * 24 * time.Hour)}
	if got := Staleness("/db", updated, vuln.DefaultMaxAge, now); got != "the vulnerability database in /db was last updated 240h0m0s ago (more than 168h0m0s): run 'docker secure db update'" {
		t.Errorf("a database older than allowed: %q", got)
	}
	if got := Staleness("", updated, vuln.DefaultMaxAge, now); !strings.HasPrefix(got, "the vulnerability database was last updated") {
		t.Errorf("an unnamed database: %q", got)
	}
	if got := Staleness("/db", updated, 0, now); got != "" {
		t.Errorf("no allowed age: %q", got)
	}
	if got := Staleness("/db", updated, 30*24*time.Hour, now); got != "" {
		t.Errorf("a database younger than allowed: %q", got)
	}
}

// TestPolicyError: the message names the scan when there are several, the
// threshold once, and each reason escaped for a terminal.
func TestPolicyError(t *testing.T) {
	f := vuln.Finding{ID: "CVE-1", Severity: vuln.Critical, Package: vuln.Package{Name: "evil\x1b[2J", Version: "1"}}
	v := policy.Defaults().Evaluate(policy.Input{Findings: []vuln.Finding{f}})
	v.Failing = []vuln.Finding{f} // unfixable: the default gates it not; the message is what is tested
	got := (&PolicyError{Name: "linux/arm64", Verdict: v}).Error()
	want := "policy failed for linux/arm64 (fail on: critical or higher, fixable only):\n  critical CVE-1 evil\\x1b[2J 1 -> no fix yet"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
