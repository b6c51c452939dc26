package frontend

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// TestFindingWarnings: the warnings list the findings that do not fail the
// policy, fixable first; the failing ones are left to the build's error,
// said once.
func TestFindingWarnings(t *testing.T) {
	s, _ := readSettings(nil)
	fixableHigh := vuln.Finding{ID: "CVE-2099-1", Severity: vuln.High, FixedVersion: "2.0",
		Package: vuln.Package{Name: "lib", Version: "1.0"}}
	ps := decide("linux/amd64", stepOf([]vuln.Finding{unfixedCritical, fixableHigh, fixableCritical}, time.Now()), s, policy.Defaults(), nil, "test")
	got := warningTexts(findingWarnings(ps))
	want := []string{
		"linux/amd64: high CVE-2099-1 in lib 1.0 -> 2.0",
		"linux/amd64: critical GHSA-2099-last-aff in listed 2.0.1 -> no fix yet",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n got %q\nwant %q", got, want)
	}
	msg := (&PolicyError{Scans: []PlatformScan{ps}}).Error()
	if want := "secure-build policy failed for linux/amd64 (fail on: critical or higher, fixable only); nothing was exported:\n  critical CVE-2021-44906 in minimist 1.2.5 -> 1.2.6"; msg != want {
		t.Errorf("policy error:\n got %q\nwant %q", msg, want)
	}
}

// TestFindingWarningsIncomplete: the places not read are warnings when
// they do not fail the build, and only the error's when they do.
func TestFindingWarningsIncomplete(t *testing.T) {
	s, _ := readSettings(nil)
	out := stepOf(nil, time.Now())
	out.result.Incomplete = []sbom.Incompleteness{{Path: "/var/lib/dpkg/status", Reason: "truncated"}}
	failing := decide("linux/amd64", out, s, policy.Defaults(), nil, "test")
	if failing.Report.Verdict.Pass {
		t.Fatal("an incomplete scan passed the default policy")
	}
	if got := warningTexts(findingWarnings(failing)); len(got) != 0 {
		t.Errorf("warnings of a failing incomplete scan repeat its error: %q", got)
	}
	msg := (&PolicyError{Scans: []PlatformScan{failing}}).Error()
	if !strings.Contains(msg, ": INCOMPLETE; nothing was exported") || !strings.Contains(msg, "not read: /var/lib/dpkg/status: truncated") {
		t.Errorf("policy error of an incomplete scan: %q", msg)
	}

	warn := policy.Defaults()
	warn.Incomplete = policy.Warn
	passing := decide("linux/amd64", out, s, warn, nil, "test")
	got := warningTexts(findingWarnings(passing))
	if !slices.Contains(got, "linux/amd64: incomplete scan: not read: /var/lib/dpkg/status: truncated") {
		t.Errorf("warnings of a passing incomplete scan do not name what was not read: %q", got)
	}
}

func warningTexts(ws []scanWarning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.msg)
	}
	return out
}
