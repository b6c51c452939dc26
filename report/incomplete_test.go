package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
)

// incompleteScan is testScan whose catalog could not read a dpkg status,
// under the default rule (fail).
func incompleteScan() *Scan {
	s := testScan()
	gaps := []sbom.Incompleteness{{Path: "/var/lib/dpkg/status", Reason: "os/dpkg: 1 of 3 package records damaged, not read: line 1: not a field: \"\x1b[2Jx\""}}
	p := policy.Defaults()
	p.Threshold = s.Threshold
	s.Verdict = p.Evaluate(policy.Input{Findings: s.Findings, Incomplete: gaps})
	return s
}

// TestIncompleteInEveryReport: the verdict says INCOMPLETE with the reason
// in every format a person or a machine reads.
func TestIncompleteInEveryReport(t *testing.T) {
	s := incompleteScan()
	if s.Verdict.Pass {
		t.Fatal("an incomplete scan passed the default rule")
	}
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, format, s); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := buf.String()
		switch format {
		case "cyclonedx-json":
			continue // an SBOM with its vulnerabilities; no verdict
		case "table", "markdown":
			if !strings.Contains(out, "INCOMPLETE") || !strings.Contains(out, "/var/lib/dpkg/status") {
				t.Errorf("%s does not say INCOMPLETE naming the file:\n%s", format, out)
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("%s prints the image's escape sequence raw", format)
			}
		case "json":
			var r struct {
				Verdict struct {
					Pass       bool                  `json:"pass"`
					Status     string                `json:"status"`
					Incomplete []sbom.Incompleteness `json:"incomplete"`
				} `json:"verdict"`
			}
			if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.Verdict.Pass || !strings.Contains(r.Verdict.Status, "INCOMPLETE") || len(r.Verdict.Incomplete) != 1 || r.Verdict.Incomplete[0].Path != "/var/lib/dpkg/status" {
				t.Errorf("json verdict = %+v", r.Verdict)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := compileReportSchema(t).Validate(inst); err != nil {
				t.Errorf("incomplete report does not match its schema: %v", err)
			}
		case "sarif":
			if !strings.Contains(out, "secure-build/scan.incomplete") || !strings.Contains(out, "incomplete scan: not read: /var/lib/dpkg/status") {
				t.Errorf("sarif has no scan.incomplete result and notification:\n%s", out)
			}
		}
	}
}
