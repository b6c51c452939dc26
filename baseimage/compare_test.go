package baseimage

import (
	"testing"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

func finding(id, pkg string, sev vuln.Severity, fixed string, kinds ...origin.Kind) vuln.Finding {
	f := vuln.Finding{ID: id, Severity: sev, FixedVersion: fixed, Package: vuln.Package{Name: pkg + "-bin", MatchName: pkg}}
	for _, k := range kinds {
		f.Package.Origins = append(f.Package.Origins, origin.Origin{Kind: k})
	}
	return f
}

func TestBaseFindings(t *testing.T) {
	all := []vuln.Finding{
		finding("CVE-1", "glibc", vuln.High, "2", origin.Base),
		finding("CVE-2", "curl", vuln.High, "2", origin.Instruction),
		finding("CVE-3", "openssl", vuln.High, "2", origin.Base, origin.Instruction), // upgraded by a RUN too
		finding("CVE-4", "zlib", vuln.High, "2", origin.Unknown),
		finding("CVE-5", "npm", vuln.High, "2"),
	}
	got := BaseFindings(all)
	if len(got) != 2 || got[0].ID != "CVE-1" || got[1].ID != "CVE-3" {
		t.Errorf("BaseFindings = %v, want CVE-1 and CVE-3", got)
	}
}

func TestCompare(t *testing.T) {
	base := []vuln.Finding{
		finding("CVE-1", "glibc", vuln.Critical, "2.37"),
		{ID: "CVE-1", Severity: vuln.Critical, FixedVersion: "2.37", Package: vuln.Package{Name: "libc-bin", MatchName: "glibc"}}, // the same, another binary package
		finding("CVE-2", "glibc", vuln.High, ""),
		finding("DSA-3", "openssl", vuln.High, "3.1"),
		finding("CVE-4", "zlib", vuln.Low, "1.3"),
	}
	base[3].Upstream = []string{"CVE-3"}
	candidate := []vuln.Finding{
		finding("CVE-2", "glibc", vuln.High, ""),
		finding("CVE-3", "openssl", vuln.High, "3.2"), // the DSA's CVE: not fixed
		finding("CVE-9", "curl", vuln.Medium, "8"),
	}
	gates := policy.Threshold{FailOn: policy.Level{Severity: vuln.High}, OnlyFixable: true}.Gates
	fixed, introduced, remaining := Compare(base, candidate, gates)
	if want := (Counts{Critical: 1, All: 2, Gating: 1}); fixed != want {
		t.Errorf("fixed %+v, want %+v (CVE-1 once, CVE-4)", fixed, want)
	}
	if want := (Counts{All: 1}); introduced != want {
		t.Errorf("introduced %+v, want %+v (CVE-9)", introduced, want)
	}
	if want := (Counts{High: 2, All: 3, Gating: 1}); remaining != want {
		t.Errorf("remaining %+v, want %+v", remaining, want)
	}
}

func TestLine(t *testing.T) {
	a := &Advice{Repository: "index.docker.io/library/debian", Tag: "12.4-slim"}
	if got := Line(a); got != "" {
		t.Errorf("no advice: %q", got)
	}
	a.Refresh = &Option{Bucket: Refreshed, Fixed: Counts{High: 3, All: 4}}
	a.Updates = []Option{
		{Image: Image{Tag: "12.5-slim"}, Bucket: Minor, Fixed: Counts{High: 3, All: 4, Gating: 0}},
		{Image: Image{Tag: "12.8-slim"}, Bucket: Minor, Fixed: Counts{High: 5, All: 6, Gating: 1}},
		{Image: Image{Tag: "13.0-slim"}, Bucket: Major, Fixed: Counts{High: 5, All: 6, Gating: 1, Critical: 0}},
	}
	a.Updates[2].Size = 1 << 30 // as much fixed, larger: 12.8-slim wins
	want := "base debian:12.4-slim: refresh available, fixes 3 high; update 12.8-slim (minor) fixes 5 high"
	if got := Line(a); got != want {
		t.Errorf("Line = %q\nwant   %q", got, want)
	}
}
