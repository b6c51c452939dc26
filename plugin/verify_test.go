package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"

	"github.com/secure-build/secure-build/vuln"
)

// TestVerifyNewFinding: an image whose build-time scan found nothing in
// minimist 1.2.5 fails against today's database, which knows CVE-2021-44906,
// and says the finding is new; the platform without it passes.
func TestVerifyNewFinding(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	db := testDB(t)
	ref := attesttest.Push(t, host, "app:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true},
		attesttest.Platform{OS: "linux", Arch: "arm64", Modules: [][2]string{{"minimist", "1.2.6"}}, Attested: true},
	)
	stdout, stderr, code := run(t, "verify", "--db", db, ref)
	if code != ExitPolicyFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitPolicyFailed, stdout, stderr)
	}
	for _, want := range []string{
		"Platform: linux/amd64\nAt build: PASS (fail on: critical or higher, fixable only), decided 2025-01-02T03:04:06Z\nNew since the build: 1 (CVE-2021-44906)\n",
		"Platform: linux/arm64\nAt build: PASS (fail on: critical or higher, fixable only), decided 2025-01-02T03:04:06Z\nNew since the build: none\n",
		"CVE-2021-44906  minimist  1.2.5      critical  fixed in 1.2.6",
		"FAIL (fail on: critical or higher, fixable only): CVE-2021-44906",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, stdout)
		}
	}
	if want := "policy failed for linux/amd64 (fail on: critical or higher, fixable only):\n  critical CVE-2021-44906 minimist 1.2.5 -> 1.2.6"; !strings.Contains(stderr, want) || strings.Contains(stderr, "linux/arm64") {
		t.Errorf("stderr does not say %q alone:\n%s", want, stderr)
	}

	// Known at build time, it is not new; the policy file's ignore entry
	// lets it pass.
	ref = attesttest.Push(t, host, "app:2", attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true, AtBuild: []vuln.Finding{minimistFinding()}})
	pol := filepath.Join(t.TempDir(), "secure-build.yaml")
	if err := os.WriteFile(pol, []byte("vulnerabilities:\n  ignore:\n    - id: CVE-2021-44906\n      reason: not reachable from our code\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = run(t, "verify", "--db", db, "--policy", pol, ref)
	if code != 0 || !strings.Contains(stdout, "New since the build: none") || !strings.Contains(stdout, "not reachable from our code") {
		t.Errorf("ignored finding known at build: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Flags override the file: a file that fails on the finding passes
	// with --fail-on none; --fail-on takes a level.
	strict := filepath.Join(t.TempDir(), "strict.yaml")
	if err := os.WriteFile(strict, []byte("vulnerabilities:\n  fail-on: low\n  only-fixable: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code = run(t, "verify", "--db", db, "--policy", strict, ref); code != ExitPolicyFailed {
		t.Errorf("a file failing on low: exit %d, want %d\n%s", code, ExitPolicyFailed, stderr)
	}
	if _, stderr, code = run(t, "verify", "--db", db, "--policy", strict, "--fail-on", "none", ref); code != 0 {
		t.Errorf("the same file with --fail-on none: exit %d\n%s", code, stderr)
	}
	if _, stderr, code = run(t, "verify", "--db", db, "--fail-on", "severe", ref); code != ExitError || !strings.Contains(stderr, "--fail-on") {
		t.Errorf("--fail-on severe: exit %d\n%s", code, stderr)
	}
}

func TestVerifyJSON(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	db := testDB(t)
	ref := attesttest.Push(t, host, "app:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true},
		attesttest.Platform{OS: "linux", Arch: "arm64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true},
	)
	stdout, stderr, code := run(t, "verify", "--db", db, "--format", "json", "--platform", "linux/arm64", ref)
	if code != ExitPolicyFailed {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var doc struct {
		Image     string `json:"image"`
		Digest    string `json:"digest"`
		Pass      bool   `json:"pass"`
		Platforms []struct {
			Platform      string `json:"platform"`
			Image         string `json:"image"`
			SBOM          string `json:"sbom"`
			Build         *struct{ Pass bool }
			NewSinceBuild []string `json:"newSinceBuild"`
			Report        struct {
				Target  string `json:"target"`
				Verdict struct {
					Pass    bool     `json:"pass"`
					Failing []string `json:"failing"`
				} `json:"verdict"`
			} `json:"report"`
		} `json:"platforms"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, stdout)
	}
	if doc.Image != ref || !strings.HasPrefix(doc.Digest, "sha256:") || doc.Pass || len(doc.Platforms) != 1 {
		t.Fatalf("document: %+v", doc)
	}
	p := doc.Platforms[0]
	if p.Platform != "linux/arm64" || p.SBOM != "attestation" || p.Build == nil || !p.Build.Pass ||
		!slices.Equal(p.NewSinceBuild, []string{"CVE-2021-44906"}) || p.Report.Target != p.Image ||
		p.Report.Verdict.Pass || !slices.Equal(p.Report.Verdict.Failing, []string{"CVE-2021-44906"}) {
		t.Errorf("platform: %+v", p)
	}
}

// TestVerifyWithoutAttestations: an error naming the image and the ways
// out; with --scan, the image itself is pulled and scanned.
func TestVerifyWithoutAttestations(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	db := testDB(t)
	ref := attesttest.Push(t, host, "bare:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}},
		attesttest.Platform{OS: "linux", Arch: "arm64", Modules: [][2]string{{"minimist", "1.2.6"}}, Attested: true},
	)
	_, stderr, code := run(t, "verify", "--db", db, ref)
	want := ref + " has no SBOM attestation for linux/amd64: build and push it with 'docker secure build --push', or pass --scan"
	if code != ExitError || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, want %d saying %q:\n%s", code, ExitError, want, stderr)
	}
	stdout, stderr, code := run(t, "verify", "--db", db, "--scan", ref)
	if code != ExitPolicyFailed || !strings.Contains(stdout, "Platform: linux/amd64\nSBOM: none attached; scanned the image now (--scan)\n") ||
		!strings.Contains(stdout, "CVE-2021-44906  minimist  1.2.5      critical  fixed in 1.2.6") || !strings.Contains(stdout, "Platform: linux/arm64\nAt build: PASS") {
		t.Errorf("--scan: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestVerifyErrors(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	db := testDB(t)
	ref := attesttest.Push(t, host, "app:1", attesttest.Platform{OS: "linux", Arch: "amd64", Attested: true})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", db, host + "/missing:1"}, host + "/missing:1: no such image in the registry"},
		{[]string{"--db", db, "--platform", "linux/s390x", ref}, "has no image for linux/s390x; it has linux/amd64"},
		{[]string{"--db", db, "--format", "sarif", ref}, `--format "sarif": want one of table, json`},
		{[]string{"--db", filepath.Join(t.TempDir(), "none"), ref}, "no vulnerability database in"},
	} {
		_, stderr, code := run(t, append([]string{"verify"}, tc.args...)...)
		if code != ExitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("verify %q: exit %d, want %d saying %q:\n%s", tc.args, code, ExitError, tc.want, stderr)
		}
	}
}

func TestNewSinceBuild(t *testing.T) {
	atBuild := minimistFinding()
	atBuild.ID, atBuild.Aliases = "GHSA-xvch-5gv4-984h", nil
	renamed := minimistFinding() // since the build, the record gained its CVE alias
	otherPackage := minimistFinding()
	otherPackage.Package.PURL = "pkg:npm/minimist@1.2.4"
	got := newSinceBuild([]vuln.Finding{renamed, otherPackage}, []vuln.Finding{atBuild})
	if len(got) != 1 || got[0].Package.PURL != "pkg:npm/minimist@1.2.4" {
		t.Errorf("new since the build: %+v, want the finding of minimist 1.2.4 alone", got)
	}
}
