package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/internal/testutil"
)

// TestScanTableListsEveryFinding: through the docker CLI, "scan" lists every
// finding of a real Debian root under the file its package was found in,
// the fixable one first, each with its status; the verdict is the last line
// and said once; --summary keeps the counts and the verdict only.
func TestScanTableListsEveryFinding(t *testing.T) {
	t.Parallel()
	root := testutil.DebianRoot(t)
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
	if r := runCmd(t, env, "docker", "secure", "db", "import", "--db", db, osv); r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte("vulnerabilities:\n  fail-on: high\n  ignore:\n    - id: DEBIAN-CVE-2099-2002\n      reason: the loader is never run setuid\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, root)
	if r.Code != 3 {
		t.Fatalf("scan: exit %d, want 3 (the policy failed)\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	target := strings.Index(r.Stdout, "\n/var/lib/dpkg/status (Debian:12)\n")
	if target < 0 {
		t.Fatalf("no group for the dpkg database:\n%s", r.Stdout)
	}
	// libc-bin and libc6 are both of glibc: each finding twice, in order.
	var rows []string
	for _, line := range strings.Split(r.Stdout[target:], "\n") {
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
		t.Errorf("rows:\n%s\nwant:\n%s\nstdout:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"), r.Stdout)
	}
	verdict := "FAIL (fail on: high or higher, fixable only): DEBIAN-CVE-2099-2000\n"
	if !strings.HasSuffix(r.Stdout, "\n"+verdict) {
		t.Errorf("the verdict is not the table's last line:\n%s", r.Stdout)
	}
	if n := strings.Count(r.Stdout+r.Stderr, "fail on:"); n != 1 || strings.TrimSpace(r.Stderr) != "policy failed: see the verdict above" {
		t.Errorf("the threshold is said %d times, or stderr repeats the verdict:\nstdout:\n%s\nstderr:\n%s", n, r.Stdout, r.Stderr)
	}

	r = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, "--summary", root)
	if r.Code != 3 || strings.Contains(r.Stdout, "DEBIAN-CVE-2099-2001") || !strings.Contains(r.Stdout, "SEVERITY  FINDINGS  FIXABLE  SUPPRESSED") ||
		!strings.HasSuffix(r.Stdout, "\n"+verdict) {
		t.Errorf("--summary: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// With the report elsewhere, stderr carries the verdict: the threshold
	// once, then the failing findings.
	r = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, "--format", "json", "-o", filepath.Join(t.TempDir(), "r.json"), root)
	wantErr := "policy failed (fail on: high or higher, fixable only):\n  critical DEBIAN-CVE-2099-2000 libc-bin " + glibc + " -> " + glibc + "+test1\n"
	if r.Code != 3 || !strings.Contains(r.Stderr, wantErr) || strings.Count(r.Stderr, "fail on:") != 1 {
		t.Errorf("--format json -o: exit %d, stderr:\n%s\nwant it to hold:\n%s", r.Code, r.Stderr, wantErr)
	}
}

// TestBuildSaysEachFindingOnce: a failing build names its failing finding
// once, in the error printed last; the finding that does not fail is a
// warning, once; the verdict step is named by the verdict alone. A build
// that passes because of an ignore entry says the finding was suppressed
// next to its PASS.
func TestBuildSaysEachFindingOnce(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	files := func() map[string]string {
		return map[string]string{
			"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
			"node_modules/listed/package.json":   npmPackage("listed", "2.0.1"),
			// A final stage no other build has: each build's scan step
			// is fresh, and its warnings are sent after it completed.
			"node_modules/.fresh": fmt.Sprint(time.Now().UnixNano()),
		}
	}
	r := e.build(t, e.project(t, multiStage, files()))
	if r.Code != 3 {
		t.Fatalf("build with a fixable critical: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	failing := "critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6"
	other := "linux/amd64: critical " + unfixedCriticalID + " in listed 2.0.1 -> no fix yet (Dockerfile:6 COPY node_modules /app/node_modules)"
	if n := strings.Count(r.Stderr, fixableCriticalID); n != 1 {
		t.Errorf("the failing finding is said %d times, want once:\n%s", n, r.Stderr)
	}
	if n := strings.Count(r.Stderr, unfixedCriticalID); n != 1 || !strings.Contains(r.Stderr, " - "+other+"\n") {
		t.Errorf("the finding that does not fail is said %d times, want once as a warning:\n%s", n, r.Stderr)
	}
	if n := strings.Count(r.Stderr, "fail on:"); n != 1 {
		t.Errorf("the threshold is said %d times, want once:\n%s", n, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "[secure-build linux/amd64] verdict: FAIL\n") {
		t.Errorf("no verdict step named by its verdict:\n%s", r.Stderr)
	}
	last := "secure-build policy failed for linux/amd64 (fail on: critical or higher, fixable only); nothing was exported:\n  " + failing + "\n"
	if !strings.HasSuffix(r.Stderr, last) {
		t.Errorf("the verdict is not last:\n%s\nwant it to end with:\n%s", r.Stderr, last)
	}

	withIgnore := files()
	withIgnore["secure-build.yaml"] = "vulnerabilities:\n  ignore:\n    - id: " + fixableCriticalID + "\n      reason: options parsing is not reachable\n"
	r = e.build(t, e.project(t, multiStage, withIgnore))
	want := "secure-build linux/amd64: PASS (fail on: critical or higher, fixable only)\n  critical: 1 fixable of 2 (1 suppressed);"
	if r.Code != 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("a pass by an ignore entry: exit %d, want 0 saying %q:\n%s", r.Code, want, r.Stderr)
	}
	suppressed := " - linux/amd64: critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6 (Dockerfile:6 COPY node_modules /app/node_modules) [suppressed by ignore secure-build.yaml:3: options parsing is not reachable]\n"
	if n := strings.Count(r.Stderr, "suppressed by ignore"); n != 1 || !strings.Contains(r.Stderr, suppressed) {
		t.Errorf("the suppression is said %d times, want once, as the warning %q:\n%s", n, suppressed, r.Stderr)
	}
}
