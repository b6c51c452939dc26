package policy

import (
	"strings"
	"testing"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/vuln"
)

// withOrigins is f with its package placed at origins.
func withOrigins(f vuln.Finding, origins ...origin.Origin) vuln.Finding {
	f.Package.Origins = origins
	return f
}

var (
	fromBase = origin.Origin{Kind: origin.Base, Image: "debian:12-slim", Digest: "sha256:ab", StartLine: 1}
	fromRun  = origin.Origin{Kind: origin.Instruction, StartLine: 7, EndLine: 8, Instruction: "RUN apt-get install -y curl"}
)

func TestScopeAdded(t *testing.T) {
	inherited := withOrigins(npmFinding("CVE-1", nil, "a", "1.0.0", "1.0.1", vuln.Critical), fromBase)
	added := withOrigins(npmFinding("CVE-2", nil, "b", "1.0.0", "1.0.1", vuln.Critical), fromRun)
	both := withOrigins(npmFinding("CVE-3", nil, "c", "1.0.0", "1.0.1", vuln.Critical), fromBase, fromRun)
	unknown := withOrigins(npmFinding("CVE-4", nil, "d", "1.0.0", "1.0.1", vuln.Critical), origin.Origin{Kind: origin.Unknown, Reason: "not attributed"})
	none := npmFinding("CVE-5", nil, "e", "1.0.0", "1.0.1", vuln.Critical)

	all := mustParse(t, "vulnerabilities:\n  scope: all\n")
	if v := all.Evaluate(Input{Findings: []vuln.Finding{inherited}, Now: now}); v.Pass {
		t.Errorf("scope all: an inherited critical must fail: %+v", v)
	}

	p := mustParse(t, "vulnerabilities:\n  scope: added\n")
	if p.Threshold.Scope != ScopeAdded {
		t.Fatalf("scope = %q, want added", p.Threshold.Scope)
	}
	v := p.Evaluate(Input{Findings: []vuln.Finding{inherited}, Now: now})
	if !v.Pass || len(v.Notes) != 0 {
		t.Errorf("scope added: an inherited critical must not gate: %+v", v)
	}
	if !strings.Contains(v.Threshold, "scope added: inherited findings do not gate") {
		t.Errorf("the verdict does not say the scope: %q", v.Threshold)
	}
	v = p.Evaluate(Input{Findings: []vuln.Finding{inherited, added, both}, Now: now})
	if v.Pass || len(v.Failing) != 2 || v.Failing[0].ID != "CVE-2" || v.Failing[1].ID != "CVE-3" {
		t.Errorf("scope added: the added and the partly added critical must fail, not the inherited: %+v", v.Failing)
	}
	// Nothing attributed them: they gate, and the verdict says why.
	v = p.Evaluate(Input{Findings: []vuln.Finding{unknown, none}, Now: now})
	if v.Pass || len(v.Failing) != 2 {
		t.Errorf("scope added: unattributed findings must gate (fail closed): %+v", v)
	}
	if len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "2 findings could not be attributed") {
		t.Errorf("the verdict must say that nothing attributed them: %q", v.Notes)
	}

	// The counts follow the scope too.
	p = mustParse(t, "vulnerabilities:\n  scope: added\n  max-counts: {critical: 0}\n")
	if v := p.Evaluate(Input{Findings: []vuln.Finding{inherited, inherited}, Now: now}); !v.Pass {
		t.Errorf("scope added with max-counts: inherited findings are not counted: %+v", v)
	}
	if v := p.Evaluate(Input{Findings: []vuln.Finding{inherited, added}, Now: now}); v.Pass || len(v.Failing) != 1 {
		t.Errorf("scope added with max-counts: the added finding counts: %+v", v)
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string]Scope{"all": ScopeAll, "Added": ScopeAdded, " added ": ScopeAdded} {
		if got, err := ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseScope("new"); err == nil || !strings.Contains(err.Error(), "want all or added") {
		t.Errorf("ParseScope(new): %v", err)
	}
	if _, err := Parse("p.yaml", []byte("vulnerabilities:\n  scope: mine\n")); err == nil || !strings.Contains(err.Error(), "policy p.yaml:2: vulnerabilities.scope: value must be one of 'all', 'added'") {
		t.Errorf("scope: mine: %v", err)
	}
}
