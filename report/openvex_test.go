package report

import (
	"testing"
	"time"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

func TestOpenVEX(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	minimist := vuln.Finding{ID: "CVE-2021-44906", Aliases: []string{"GHSA-xvch-5gv4-984h"}, Severity: vuln.Critical, FixedVersion: "1.2.6",
		Package: vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5"}}
	parse := func(doc string) *policy.Policy {
		p, err := policy.Parse("secure-build.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := parse("vulnerabilities:\n  ignore:\n    - id: CVE-2021-44906\n      reason: not reachable\n")
	v := p.Evaluate(policy.Input{Findings: []vuln.Finding{minimist}, Now: now})
	doc := OpenVEX(v, "secure-build test", now)
	if doc == nil || len(doc.Statements) != 1 {
		t.Fatalf("OpenVEX of one suppression: %+v", doc)
	}
	st := doc.Statements[0]
	if st.Vulnerability.Name != "CVE-2021-44906" || st.Status != "not_affected" || st.ImpactStatement != "not reachable" ||
		st.Products[0].ID != "pkg:npm/minimist@1.2.5" || len(st.Vulnerability.Aliases) != 1 {
		t.Errorf("statement: %+v", st)
	}
	if err := st.Validate(); err != nil {
		t.Errorf("the statement is not valid OpenVEX: %v", err)
	}
	if OpenVEX(parse("").Evaluate(policy.Input{Findings: []vuln.Finding{minimist}, Now: now}), "t", now) != nil {
		t.Error("an OpenVEX document without suppressions")
	}
}
