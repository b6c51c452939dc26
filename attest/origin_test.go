package attest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// TestScanOrigins: the scan predicate carries each finding's origins and
// DecodeScan gives them back; a verify's findings take them by package.
func TestScanOrigins(t *testing.T) {
	layer := 2
	origins := []origin.Origin{
		{Kind: origin.Base, Image: "debian:12-slim", Digest: "sha256:ab", File: "Dockerfile", StartLine: 1, EndLine: 1},
		{Kind: origin.Instruction, File: "Dockerfile", StartLine: 7, EndLine: 9, Instruction: "RUN a && \\\n b", Stage: "final"},
		{Kind: origin.Layer, Layer: &layer, DiffID: "sha256:cd", CreatedBy: "RUN /bin/sh -c b"},
	}
	finding := vuln.Finding{ID: "CVE-2021-44906", Package: vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5", Origins: origins}, FixedVersion: "1.2.6", Severity: vuln.Critical}
	r := &report.Scan{Target: "linux/amd64 final stage", Findings: []vuln.Finding{finding}, Threshold: policy.Default,
		Verdict: policy.Verdict{Threshold: policy.Default.String(), Failing: []vuln.Finding{finding}}}
	p, err := NewVulnPredicate(r, time.Now(), time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := DecodeScan(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := scan.Findings()[0].Package.Origins; !reflect.DeepEqual(got, origins) {
		t.Errorf("origins read back:\n got %+v\nwant %+v", got, origins)
	}

	today := finding
	today.ID = "CVE-2099-1"
	today.Package.Origins = nil
	other := vuln.Finding{ID: "CVE-2099-2", Package: vuln.Package{Name: "other", PURL: "pkg:npm/other@1"}}
	got := scan.WithOrigins([]vuln.Finding{today, other})
	if !reflect.DeepEqual(got[0].Package.Origins, origins) || got[1].Package.Origins != nil {
		t.Errorf("a finding takes the build's origins of its package, another package none: %+v", got)
	}
	if today.Package.Origins != nil {
		t.Error("WithOrigins changed its argument")
	}
}
