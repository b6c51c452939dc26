package test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/secure-build/secure-build/internal/testutil"
)

// installedGlibc reads the root's glibc source version with dpkg-query, so
// the records written below are about what is really installed.
func installedGlibc(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "--admindir="+root+"/var/lib/dpkg", "-W", "-f", "${source:Version}", "libc6").Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("dpkg-query libc6 in %s: %v", root, err)
	}
	return string(out)
}

// osvZip packs OSV records as OSV publishes an ecosystem: all.zip.
func osvZip(t *testing.T, records ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, r := range records {
		w, err := zw.Create(fmt.Sprintf("record-%d.json", i))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(r))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// debianRecords are written for the test about the root's real glibc: one
// fixed above the installed version (a finding), one fixed at it (a
// backport: no finding), one with no fix.
func debianRecords(glibc string) []string {
	record := func(id, summary, vector, fixed string) string {
		events := `[{"introduced": "0"}]`
		if fixed != "" {
			events = fmt.Sprintf(`[{"introduced": "0"}, {"fixed": %q}]`, fixed)
		}
		severity := ""
		if vector != "" {
			severity = fmt.Sprintf(`"severity": [{"type": "CVSS_V3", "score": %q}],`, vector)
		}
		return fmt.Sprintf(`{"id": %q, "modified": "2024-01-01T00:00:00Z", "upstream": ["CVE-%s"], "summary": %q, %s
			"affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"}, "ranges": [{"type": "ECOSYSTEM", "events": %s}]}]}`,
			id, strings.TrimPrefix(id, "DEBIAN-CVE-"), summary, severity, events)
	}
	return []string{
		record("DEBIAN-CVE-2099-1000", "critical, fixed in a later version", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", glibc+"+test1"),
		record("DEBIAN-CVE-2099-1001", "fixed by the installed version", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", glibc),
		record("DEBIAN-CVE-2099-1002", "no fix yet", "", ""),
	}
}

// TestScanEndToEnd: "db update" from an OSV server on loopback, then "scan"
// of a real Debian root through the docker CLI: findings, exit statuses,
// formats, and the policy flags.
func TestScanEndToEnd(t *testing.T) {
	t.Parallel()
	root := testutil.DebianRoot(t)
	env := pluginConfig(t)
	glibc := installedGlibc(t, root)
	archive := osvZip(t, debianRecords(glibc)...)
	var downloads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Debian/all.zip" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		downloads.Add(1)
		w.Header().Set("ETag", `"v1"`)
		w.Write(archive)
	}))
	defer srv.Close()
	db := filepath.Join(t.TempDir(), "db")

	res := runCmd(t, env, "docker", "secure", "scan", "--db", db, root)
	if res.Code != 2 || !strings.Contains(res.Stderr, "db update") {
		t.Fatalf("scan without a database: exit %d, stderr %q; want 2 and how to get one", res.Code, res.Stderr)
	}

	for range 2 {
		res = runCmd(t, env, "docker", "secure", "db", "update", "--db", db, "--base-url", srv.URL, "--ecosystem", "Debian")
		if res.Code != 0 {
			t.Fatalf("db update: exit %d: %s", res.Code, res.Stderr)
		}
	}
	if downloads.Load() != 1 || !strings.Contains(res.Stdout, "unchanged") {
		t.Errorf("second db update downloaded again (%d downloads): %s", downloads.Load(), res.Stdout)
	}
	res = runCmd(t, env, "docker", "secure", "db", "status", "--db", db)
	if res.Code != 0 || !strings.Contains(res.Stdout, "Debian") || !strings.Contains(res.Stdout, srv.URL) {
		t.Errorf("db status: exit %d:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	// Default policy: a fixable critical fails with the policy's status; the
	// table on the terminal lists it with its fix and ends with the verdict,
	// and stderr points there rather than say it again.
	res = runCmd(t, env, "docker", "secure", "scan", "--db", db, root)
	if res.Code != 3 {
		t.Fatalf("scan: exit %d, want 3 (policy failed)\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "DEBIAN-CVE-2099-1000") || !strings.Contains(res.Stdout, "fixed in "+glibc+"+test1") ||
		!strings.Contains(res.Stderr, "policy failed: see the verdict above") {
		t.Errorf("policy failure does not give the finding and its fix:\n%s%s", res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stdout, "critical") || strings.Contains(res.Stdout, "DEBIAN-CVE-2099-1001") {
		t.Errorf("table:\n%s", res.Stdout)
	}

	res = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--fail-on", "none", "--format", "json", root)
	if res.Code != 0 {
		t.Fatalf("scan --fail-on none: exit %d: %s", res.Code, res.Stderr)
	}
	var report struct {
		Findings []struct {
			ID       string   `json:"id"`
			Upstream []string `json:"upstream"`
			Fixable  bool     `json:"fixable"`
			Package  struct {
				Name, MatchName string
			} `json:"package"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &report); err != nil {
		t.Fatalf("json report: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range report.Findings {
		seen[f.ID] = true
		if f.Package.MatchName != "glibc" {
			t.Errorf("finding %s on %s matched %q, want the source package glibc", f.ID, f.Package.Name, f.Package.MatchName)
		}
	}
	if !seen["DEBIAN-CVE-2099-1000"] || !seen["DEBIAN-CVE-2099-1002"] || seen["DEBIAN-CVE-2099-1001"] {
		t.Errorf("findings %v: want 1000 and 1002, never the backported 1001", seen)
	}

	// The SPDX document alone is enough to match again: the same findings.
	spdxOut := runCmd(t, env, "docker", "secure", "sbom", "--format", "spdx-json", root)
	if spdxOut.Code != 0 {
		t.Fatalf("sbom --format spdx-json: exit %d: %s", spdxOut.Code, spdxOut.Stderr)
	}
	rematched := rematchFromSPDX(t, db, spdxOut.Stdout)
	for _, f := range report.Findings {
		key := f.Package.Name + " " + f.ID
		if !rematched[key] {
			t.Errorf("finding %s is not found again from the SPDX document alone", key)
		}
		delete(rematched, key)
	}
	if len(rematched) > 0 {
		t.Errorf("the SPDX document alone gives findings the scan did not: %v", rematched)
	}
	spdxFile := filepath.Join(t.TempDir(), "root.spdx.json")
	if err := os.WriteFile(spdxFile, []byte(spdxOut.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	fromSBOM := runCmd(t, env, "docker", "secure", "scan", "--db", db, "--format", "json", "--fail-on", "none", "sbom:"+spdxFile)
	if fromSBOM.Code != 0 || strings.Count(fromSBOM.Stdout, `"fixedVersion"`) != len(report.Findings) {
		t.Errorf("scan sbom:%s: exit %d, want the scan's %d findings:\n%s", spdxFile, fromSBOM.Code, len(report.Findings), fromSBOM.Stderr)
	}

	// Only an unfixable finding left to gate: not with --only-fixable,
	// yes without it.
	res = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--fail-on", "unknown", "--only-fixable=false", "--format", "sarif", root)
	if res.Code != 3 || !strings.Contains(res.Stdout, `"version": "2.1.0"`) {
		t.Errorf("scan --fail-on unknown --only-fixable=false: exit %d\n%s", res.Code, res.Stderr)
	}
	res = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--fail-on", "bogus", root)
	if res.Code != 2 || !strings.Contains(res.Stderr, "bogus") {
		t.Errorf("scan --fail-on bogus: exit %d, stderr %q", res.Code, res.Stderr)
	}

	// A policy file: its ignore entry (by the upstream CVE id) lets the scan
	// pass and is listed with its reason; a flag still overrides the file.
	policyFile := filepath.Join(t.TempDir(), "secure-build.yaml")
	writePolicy := func(doc string) {
		if err := os.WriteFile(policyFile, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePolicy("vulnerabilities:\n  ignore:\n    - id: DEBIAN-CVE-2099-1000\n      package: glibc\n      reason: the test's record\n")
	res = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, root)
	if res.Code != 0 || !strings.Contains(res.Stdout, "suppressed: the test's record (") || !strings.Contains(res.Stdout, "the test's record") {
		t.Errorf("scan --policy with an ignore entry: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, "--fail-on", "unknown", "--only-fixable=false", root)
	if res.Code != 3 {
		t.Errorf("--fail-on unknown over the policy file: exit %d, want 3\n%s", res.Code, res.Stderr)
	}
	writePolicy("vulnerabilities:\n  fail-on: severe\n")
	res = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--policy", policyFile, root)
	if res.Code != 2 || !strings.Contains(res.Stderr, policyFile+":2: vulnerabilities.fail-on") {
		t.Errorf("an invalid policy file: exit %d, want 2 naming its line\n%s", res.Code, res.Stderr)
	}
}

// rematchFromSPDX matches the packages of an SPDX document, known only by
// their names, versions and purls, and returns "package id" of each finding.
func rematchFromSPDX(t *testing.T, dbDir, document string) map[string]bool {
	t.Helper()
	doc, err := spdxjson.Read(strings.NewReader(document))
	if err != nil {
		t.Fatalf("read SPDX: %v", err)
	}
	var pkgs []sbom.Package
	for _, p := range doc.Packages {
		for _, ref := range p.PackageExternalReferences {
			if ref.RefType == "purl" {
				pkgs = append(pkgs, sbom.Package{Name: p.PackageName, Version: p.PackageVersion, PURL: ref.Locator})
			}
		}
	}
	db, err := vuln.Open(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	findings, _, err := db.Match(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range findings {
		out[f.Package.Name+" "+f.ID] = true
	}
	return out
}
