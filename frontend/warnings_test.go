package frontend

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/origin"
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

// TestFindingWarningsNameTheirOrigin: the findings name their origin: the warning says it, and one from a
// Dockerfile line points at it, for clients to print the lines.
func TestFindingWarningsNameTheirOrigin(t *testing.T) {
	s, _ := readSettings(nil)
	added := vuln.Finding{ID: "CVE-2099-7", Severity: vuln.High, FixedVersion: "2.0",
		Package: vuln.Package{Name: "curl", Version: "1.0", Origins: []origin.Origin{{Kind: origin.Instruction, File: "Dockerfile", StartLine: 7, EndLine: 8, Instruction: "RUN apt-get install -y \\\n curl"}}}}
	inherited := vuln.Finding{ID: "CVE-2099-8", Severity: vuln.High, FixedVersion: "2.0",
		Package: vuln.Package{Name: "bash", Version: "1.0", Origins: []origin.Origin{{Kind: origin.Base, Image: "debian:12", StartLine: 1, EndLine: 1}}}}
	unknown := vuln.Finding{ID: "CVE-2099-9", Severity: vuln.High, FixedVersion: "2.0",
		Package: vuln.Package{Name: "zlib", Version: "1.0", Origins: []origin.Origin{{Kind: origin.Unknown, Reason: "no chain"}}}}
	ps := decide("linux/amd64", stepOf([]vuln.Finding{added, inherited, unknown}, time.Now()), s, policy.Defaults(), nil, "test")
	got := map[string]scanWarning{}
	for _, w := range findingWarnings(ps) {
		got[w.msg] = w
	}
	for msg, line := range map[string]int{
		"linux/amd64: high CVE-2099-7 in curl 1.0 -> 2.0 (Dockerfile:7-8 RUN apt-get install -y …)": 7,
		"linux/amd64: high CVE-2099-8 in bash 1.0 -> 2.0 (base debian:12)":                          1,
		"linux/amd64: high CVE-2099-9 in zlib 1.0 -> 2.0 (unknown: no chain)":                       0,
	} {
		w, ok := got[msg]
		switch {
		case !ok:
			t.Errorf("no warning %q in %q", msg, warningTexts(findingWarnings(ps)))
		case line == 0 && w.at != nil:
			t.Errorf("%q points at line %d: it has no line", msg, w.at.StartLine)
		case line != 0 && (w.at == nil || w.at.StartLine != line):
			t.Errorf("%q does not point at line %d: %+v", msg, line, w.at)
		}
	}
}
