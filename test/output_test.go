package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanTableListsEveryFinding: through the docker CLI, "scan" lists every
// finding of a real Debian root under the file its package was found in,
// the fixable one first, each with its status; the verdict is the last line
// and said once; --summary keeps the counts and the verdict only.
func TestScanTableListsEveryFinding(t *testing.T) {
	root := testRootfs(t)
	env := pluginConfig(t)
	glibc := installedGlibc(t, root)

	osv := filepath.Join(t.TempDir(), "Debian")
	if err := os.MkdirAll(osv, 0o755); err != nil {
		t.Fatal(err)
	}
	record := func(id, summary, fixed string) {
		events := `[{"introduced": "0"}]`
		if fixed != "" {
			events = fmt.Sprintf(`[{"introduced": "0"}, {"fixed": %q}]`, fixed)
		}
		doc := fmt.Sprintf(`{"id": %q, "modified": "2024-01-01T00:00:00Z", "summary": %q,
			"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
			"affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"}, "ranges": [{"type": "ECOSYSTEM", "events": %s}]}]}`,
			id, summary, events)
		if err := os.WriteFile(filepath.Join(osv, id+".json"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	record("DEBIAN-CVE-2099-2000", "fixed in a later version", glibc+"+test1")
	record("DEBIAN-CVE-2099-2001", "no fix yet", "")
	record("DEBIAN-CVE-2099-2002", "fixed too, but set aside", glibc+"+test2")
	db := filepath.Join(t.TempDir(), "db")
	if r := runCmd(t, env, "docker", "secure", "db", "import", "--db", db, osv); r.code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.code, r.stderr)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte("vulnerabilities:\n  fail-on: high\n  ignore:\n    - id: DEBIAN-CVE-2099-2002\n      reason: the loader is never run setuid\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, root)
	if r.code != 1 {
		t.Fatalf("scan: exit %d, want 1 (the policy failed)\n%s%s", r.code, r.stdout, r.stderr)
	}
	target := strings.Index(r.stdout, "\n/var/lib/dpkg/status (Debian:12)\n")
	if target < 0 {
		t.Fatalf("no group for the dpkg database:\n%s", r.stdout)
	}
	// libc-bin and libc6 are both of glibc: each finding twice, in order.
	var rows []string
	for _, line := range strings.Split(r.stdout[target:], "\n") {
		if strings.HasPrefix(line, "DEBIAN-CVE-") {
			rows = append(rows, strings.Join(strings.Fields(line), " "))
		}
	}
	want := []string{
		"DEBIAN-CVE-2099-2000 libc-bin " + glibc + " critical fixed in " + glibc + "+test1 fixed in a later version",
		"DEBIAN-CVE-2099-2000 libc6 " + glibc + " critical fixed in " + glibc + "+test1 fixed in a later version",
		"DEBIAN-CVE-2099-2001 libc-bin " + glibc + " critical no fix yet no fix yet",
		"DEBIAN-CVE-2099-2001 libc6 " + glibc + " critical no fix yet no fix yet",
		"DEBIAN-CVE-2099-2002 libc-bin " + glibc + " critical suppressed: the loader is never run setuid (" + policyFile + ":4) fixed too, but set aside",
		"DEBIAN-CVE-2099-2002 libc6 " + glibc + " critical suppressed: the loader is never run setuid (" + policyFile + ":4) fixed too, but set aside",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s\nstdout:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"), r.stdout)
	}
	verdict := "FAIL (fail on: high or higher, fixable only): DEBIAN-CVE-2099-2000\n"
	if !strings.HasSuffix(r.stdout, "\n"+verdict) {
		t.Errorf("the verdict is not the table's last line:\n%s", r.stdout)
	}
	if n := strings.Count(r.stdout+r.stderr, "fail on:"); n != 1 || strings.TrimSpace(r.stderr) != "policy failed: see the verdict above" {
		t.Errorf("the threshold is said %d times, or stderr repeats the verdict:\nstdout:\n%s\nstderr:\n%s", n, r.stdout, r.stderr)
	}

	r = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, "--summary", root)
	if r.code != 1 || strings.Contains(r.stdout, "DEBIAN-CVE-2099-2001") || !strings.Contains(r.stdout, "SEVERITY  FINDINGS  FIXABLE  SUPPRESSED") ||
		!strings.HasSuffix(r.stdout, "\n"+verdict) {
		t.Errorf("--summary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// With the report elsewhere, stderr carries the verdict: the threshold
	// once, then the failing findings.
	r = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, "--format", "json", "-o", filepath.Join(t.TempDir(), "r.json"), root)
	wantErr := "policy failed (fail on: high or higher, fixable only):\n  critical DEBIAN-CVE-2099-2000 libc-bin " + glibc + " -> " + glibc + "+test1\n"
	if r.code != 1 || !strings.Contains(r.stderr, wantErr) || strings.Count(r.stderr, "fail on:") != 1 {
		t.Errorf("--format json -o: exit %d, stderr:\n%s\nwant it to hold:\n%s", r.code, r.stderr, wantErr)
	}
}

// TestBuildSaysEachFindingOnce: a failing build names its failing finding
// once, in the error printed last; the finding that does not fail is a
// warning, once; the verdict step is named by the verdict alone. A build
// that passes because of an ignore entry says the finding was suppressed
// next to its PASS.
func TestBuildSaysEachFindingOnce(t *testing.T) {
	e := newBuildEnv(t)
	files := func() map[string]string {
		return map[string]string{
			"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
			"node_modules/listed/package.json":   npmPackage("listed", "2.0.1"),
		}
	}
	r := e.build(t, e.project(t, multiStage, files()))
	if r.code != 1 {
		t.Fatalf("build with a fixable critical: exit %d, want 1\n%s", r.code, r.stderr)
	}
	failing := "critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6"
	other := "linux/amd64: critical " + unfixedCriticalID + " in listed 2.0.1 -> no fix yet"
	if n := strings.Count(r.stderr, fixableCriticalID); n != 1 {
		t.Errorf("the failing finding is said %d times, want once:\n%s", n, r.stderr)
	}
	if n := strings.Count(r.stderr, unfixedCriticalID); n != 1 || !strings.Contains(r.stderr, " - "+other+"\n") {
		t.Errorf("the finding that does not fail is said %d times, want once as a warning:\n%s", n, r.stderr)
	}
	if n := strings.Count(r.stderr, "fail on:"); n != 1 {
		t.Errorf("the threshold is said %d times, want once:\n%s", n, r.stderr)
	}
	if !strings.Contains(r.stderr, "[secure-build linux/amd64] verdict: FAIL\n") {
		t.Errorf("no verdict step named by its verdict:\n%s", r.stderr)
	}
	last := "secure-build policy failed for linux/amd64 (fail on: critical or higher, fixable only); nothing was exported:\n  " + failing + "\n"
	if !strings.HasSuffix(r.stderr, last) {
		t.Errorf("the verdict is not last:\n%s\nwant it to end with:\n%s", r.stderr, last)
	}

	withIgnore := files()
	withIgnore["secure-build.yaml"] = "vulnerabilities:\n  ignore:\n    - id: " + fixableCriticalID + "\n      reason: options parsing is not reachable\n"
	r = e.build(t, e.project(t, multiStage, withIgnore))
	want := "secure-build linux/amd64: PASS (fail on: critical or higher, fixable only)\n  critical: 1 fixable of 2 (1 suppressed);"
	if r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("a pass by an ignore entry: exit %d, want 0 saying %q:\n%s", r.code, want, r.stderr)
	}
}
