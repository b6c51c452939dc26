package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/policy"
)

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	fields := make([]string, len(lines))
	for i, l := range lines {
		fields[i] = strings.Join(strings.Fields(l), " ")
	}

	for _, want := range []string{
		"Target: registry.example/app:1 (Debian GNU/Linux 12 (bookworm))",
		"Warning: the vulnerability database is 9 days old (allowed: 7); run docker secure db update",
		"SEVERITY FINDINGS FIXABLE",
		"critical 1 0", "high 1 1", "medium 2 2", "low 0 0", "unknown 1 0", "total 5 3",
		"2 findings have no fix yet (1 critical, 1 unknown); the JSON report lists every finding.",
		"FAIL (fail on: high or higher, fixable only): GHSA-m425-mq94-257g",
	} {
		if !slices.Contains(fields, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}

	// The fixable findings, in report order, each with its fix; the
	// unfixable ones are only counted.
	var rows []string
	for _, f := range fields {
		for _, id := range []string{"GHSA-", "DSA-", "CVE-"} {
			if strings.HasPrefix(f, id) {
				rows = append(rows, f)
			}
		}
	}
	want := []string{
		"GHSA-m425-mq94-257g google.golang.org/grpc v1.56.2 -> 1.56.3 high gRPC-Go HTTP/2 Rapid Reset vulnerability",
		"DSA-5678-1 libssl3 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1 medium openssl - security update: null dereference | PKCS12 <par...",
		"DSA-5678-1 openssl 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1 medium openssl - security update: null dereference | PKCS12 <par...",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("fixable rows:\n got %q\nwant %q", rows, want)
	}
	if strings.Contains(out, "CVE-2023-45853") || strings.Contains(out, "CVE-2005-2541") {
		t.Errorf("unfixable findings listed one by one:\n%s", out)
	}
	if strings.Index(out, "critical 1") > strings.Index(out, "GHSA-") {
		t.Errorf("counts are not first:\n%s", out)
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

func TestWriteTableNothingFixable(t *testing.T) {
	s := testScan()
	s.Findings = s.Findings[:1] // the unknown one, no fix
	s.Verdict = (&policy.Policy{Threshold: s.Threshold}).Evaluate(policy.Input{Findings: s.Findings})
	var buf bytes.Buffer
	if err := WriteTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No fixable findings.", "1 finding has no fix yet (1 unknown)", "unknown   1"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("no %q in\n%s", want, buf.String())
		}
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
