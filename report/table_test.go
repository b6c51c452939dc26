package report

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

// rowsOf is the table's lines with their runs of spaces made one, and the
// finding rows among them.
func rowsOf(out string) (fields, rows []string) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Join(strings.Fields(l), " ")
		fields = append(fields, f)
		for _, id := range []string{"GHSA-", "DSA-", "CVE-"} {
			if strings.HasPrefix(f, id) {
				rows = append(rows, f)
			}
		}
	}
	return fields, rows
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	fields, rows := rowsOf(out)
	for _, want := range []string{
		"Target: registry.example/app:1 (Debian GNU/Linux 12 (bookworm))",
		"Warning: the vulnerability database is 9 days old (allowed: 7); run docker secure db update",
		"SEVERITY FINDINGS FIXABLE",
		"critical 1 0", "high 1 1", "medium 2 2", "low 0 0", "unknown 1 0", "total 5 3",
		"ID PACKAGE INSTALLED SEVERITY STATUS SUMMARY",
	} {
		if !slices.Contains(fields, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
	// Every finding, the fixable ones first, under the file its package
	// was found in; the group with the most pressing finding first.
	want := []string{
		"GHSA-m425-mq94-257g google.golang.org/grpc v1.56.2 high fixed in 1.56.3 gRPC-Go HTTP/2 Rapid Reset vulnerability",
		"DSA-5678-1 libssl3 3.0.11-1~deb12u2 medium fixed in 3.0.13-1~deb12u1 openssl - security update: null dereference | PKCS12 <par...",
		"DSA-5678-1 openssl 3.0.11-1~deb12u2 medium fixed in 3.0.13-1~deb12u1 openssl - security update: null dereference | PKCS12 <par...",
		"CVE-2023-45853 zlib1g 1:1.2.13.dfsg-1 critical no fix yet " + strings.Fields(testScanSummary("CVE-2023-45853"))[0],
		"CVE-2005-2541 tar 1.34+dfsg-1.2+deb12u1 unknown no fix yet " + strings.Fields(testScanSummary("CVE-2005-2541"))[0],
	}
	if len(rows) != len(want) {
		t.Fatalf("rows:\n got %q\nwant %q", rows, want)
	}
	for i := range want {
		if !strings.HasPrefix(rows[i], want[i]) {
			t.Errorf("row %d:\n got %q\nwant %q...", i, rows[i], want[i])
		}
	}
	goTarget := strings.Index(out, "\n/usr/local/bin/my server (Go)\n")
	dpkgTarget := strings.Index(out, "\n/var/lib/dpkg/status (Debian:12)\n")
	if goTarget < 0 || dpkgTarget < goTarget || strings.Index(out, "GHSA-") < goTarget || strings.Index(out, "DSA-") < dpkgTarget {
		t.Errorf("findings not grouped by target, the Go binary's first:\n%s", out)
	}
	if strings.Index(out, "critical 1") > strings.Index(out, "GHSA-") {
		t.Errorf("counts are not first:\n%s", out)
	}
	if !strings.HasSuffix(out, "\nFAIL (fail on: high or higher, fixable only): GHSA-m425-mq94-257g\n") {
		t.Errorf("the verdict is not last:\n%s", out)
	}
}

// testScanSummary is the first word of a test finding's summary.
func testScanSummary(id string) string {
	for _, f := range testFindings() {
		if f.ID == id {
			return f.Summary
		}
	}
	return ""
}

// TestWriteTableSuppressed: a suppressed finding is listed last, its status
// saying why and where, and counted; the verdict stays last.
func TestWriteTableSuppressed(t *testing.T) {
	s := testScan()
	grpc := s.Findings[slices.IndexFunc(s.Findings, func(f vuln.Finding) bool { return f.ID == "GHSA-m425-mq94-257g" })]
	s.Verdict = policy.Verdict{Pass: true, Threshold: s.Threshold.String(), Suppressed: []policy.Suppressed{{
		Finding: grpc, By: "ignore", Status: "not_affected", Reason: "the server does not use HTTP/2", Source: "secure-build.yaml:4",
	}}}
	var buf bytes.Buffer
	if err := WriteTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	fields, rows := rowsOf(out)
	for _, want := range []string{"SEVERITY FINDINGS FIXABLE SUPPRESSED", "high 1 1 1", "critical 1 0 0", "total 5 3 1"} {
		if !slices.Contains(fields, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
	last := rows[len(rows)-1]
	if !strings.HasPrefix(last, "GHSA-m425-mq94-257g google.golang.org/grpc v1.56.2 high suppressed: the server does not use HTTP/2 (secure-build.yaml:4) gRPC-Go") {
		t.Errorf("the suppressed finding is not last with its reason: %q\n%s", last, out)
	}
	if strings.Contains(out, "Suppressed (") {
		t.Errorf("the suppression is said twice:\n%s", out)
	}
	if !strings.HasSuffix(out, "\nPASS (fail on: high or higher, fixable only)\n") {
		t.Errorf("no PASS line at the end:\n%s", out)
	}
}

// TestWriteTableSummary: the short form has the counts and the verdict,
// not the findings.
func TestWriteTableSummary(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTableSummary(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	fields, rows := rowsOf(out)
	if len(rows) != 0 || !slices.Contains(fields, "total 5 3") {
		t.Errorf("summary lists findings or lacks the counts:\n%s", out)
	}
	if !strings.HasSuffix(out, "\nFAIL (fail on: high or higher, fixable only): GHSA-m425-mq94-257g\n") {
		t.Errorf("the verdict is not last:\n%s", out)
	}
}

func TestWriteTablePass(t *testing.T) {
	s := testScan()
	s.Database.Stale = ""
	s.Threshold = policy.Default
	s.Verdict = (&policy.Policy{Threshold: s.Threshold}).Evaluate(policy.Input{Findings: s.Findings})
	var buf bytes.Buffer
	if err := WriteTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasSuffix(out, "\nPASS (fail on: critical or higher, fixable only)\n") {
		t.Errorf("no PASS line at the end:\n%s", out)
	}
	if strings.Contains(out, "Warning") {
		t.Errorf("warning without a stale database:\n%s", out)
	}
}

func TestScanSummary(t *testing.T) {
	s := testScan()
	if got, want := ScanSummary(s), Summary(s.Findings); got != want {
		t.Errorf("nothing suppressed: ScanSummary %q, Summary %q", got, want)
	}
	s.Verdict.Suppressed = []policy.Suppressed{{Finding: s.Findings[0], By: "vex", Status: "not_affected", Source: "app.vex.json"}}
	want := fmt.Sprintf("%s: 0 fixable of 1 (1 suppressed)", s.Findings[0].Severity)
	if got := ScanSummary(s); !strings.Contains(got, want) {
		t.Errorf("ScanSummary = %q, want it to say %q", got, want)
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", summaryWidth+10)
	got := truncate(long, summaryWidth)
	if n := len([]rune(got)); n != summaryWidth || !strings.HasSuffix(got, "...") {
		t.Errorf("truncate: %d runes, %q", n, got)
	}
	if got := truncate("short", summaryWidth); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
}

func TestJoinCapped(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	if got := joinCapped(ids, 2); got != "a, b and 2 more" {
		t.Errorf("got %q", got)
	}
	if got := joinCapped(ids, 4); got != "a, b, c, d" {
		t.Errorf("got %q", got)
	}
}
