package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "## secure-build scan: ❌ FAIL\n") {
		t.Errorf("heading does not give the verdict:\n%s", out)
	}
	for _, want := range []string{
		"Failing: GHSA-m425-mq94-257g\n",
		"> [!WARNING]\n> the vulnerability database is 9 days old",
		"| critical | 1 | 0 |\n| high | 1 | 1 |\n| medium | 2 | 2 |\n| low | 0 | 0 |\n| unknown | 1 | 0 |\n| **total** | **5** | **3** |\n",
		"| GHSA-m425-mq94-257g | google.golang.org/grpc | v1.56.2 | 1.56.3 | high | gRPC-Go HTTP/2 Rapid Reset vulnerability |\n" +
			`| DSA-5678-1 | libssl3 | 3.0.11-1\~deb12u2 | 3.0.13-1\~deb12u1 | medium | openssl - security update: null dereference \| PKCS12 &lt;parsing&gt; |` + "\n",
		"\n2 findings have no fix yet.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "Showing") {
		t.Errorf("a cap note under the cap:\n%s", out)
	}
	// Every table row has as many cells as its header: no '|' leaked.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| ") {
			cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
			if cells != 4 && cells != 7 {
				t.Errorf("row with %d separators: %s", cells, line)
			}
		}
	}
}

func TestWriteMarkdownCapped(t *testing.T) {
	s := testScan()
	s.Findings = nil
	for i := range markdownRows + 7 {
		s.Findings = append(s.Findings, vuln.Finding{
			ID: fmt.Sprintf("CVE-2026-%04d", i), Severity: vuln.High, FixedVersion: "2",
			Package: vuln.Package{Name: "p", Version: "1", PURL: "pkg:generic/p@1"},
		})
	}
	s.Verdict = (&policy.Policy{Threshold: s.Threshold}).Evaluate(policy.Input{Findings: s.Findings})
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if rows := strings.Count(out, "| CVE-2026-"); rows != markdownRows {
		t.Errorf("%d rows, want %d", rows, markdownRows)
	}
	if !strings.Contains(out, fmt.Sprintf("_Showing %d of %d fixable findings; the JSON report lists every finding._", markdownRows, markdownRows+7)) {
		t.Errorf("no cap note:\n%s", out)
	}
	if !strings.Contains(out, "Failing: CVE-2026-0000, CVE-2026-0001") || !strings.Contains(out, "and 37 more") {
		t.Errorf("failing ids not capped:\n%s", out)
	}
}
