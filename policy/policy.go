// Package policy decides whether findings fail a build or a scan. It knows
// nothing of how the findings were made.
package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// Threshold says which findings gate. FailOn is the lowest severity that
// fails; None, below every level, gates nothing.
type Threshold struct {
	FailOn      Level
	OnlyFixable bool
	// Scope is which findings gate by origin; "" is ScopeAll.
	Scope Scope
}

// Level is a fail-on level: a severity, or none.
type Level struct {
	Severity vuln.Severity
	None     bool
}

// Default is the product's default everywhere: fail on a fixable critical;
// unknown severity never gates unless asked for.
var Default = Threshold{FailOn: Level{Severity: vuln.Critical}, OnlyFixable: true}

// ParseLevel reads critical, high, medium, low, unknown or none.
func ParseLevel(s string) (Level, error) {
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return Level{None: true}, nil
	}
	sev, err := vuln.ParseSeverity(s)
	if err != nil {
		return Level{}, fmt.Errorf("%q: want critical, high, medium, low, unknown or none", s)
	}
	return Level{Severity: sev}, nil
}

func (l Level) String() string {
	if l.None {
		return "none"
	}
	return l.Severity.String()
}

// Gates says whether a finding fails the threshold. "unknown" as the level
// gates every finding, unknown ones included; any other level gates the
// findings at or above it, never the unknown ones. Under scope added, a
// finding inherited from the base image never gates.
func (t Threshold) Gates(f vuln.Finding) bool {
	if t.FailOn.None || (t.OnlyFixable && !f.Fixable()) || !t.inScope(f) {
		return false
	}
	if t.FailOn.Severity == vuln.Unknown {
		return true
	}
	return f.Severity != vuln.Unknown && f.Severity >= t.FailOn.Severity
}

// Verdict is the outcome of a policy: the threshold over the findings, and
// the other rules.
type Verdict struct {
	Pass      bool   `json:"pass"`
	Threshold string `json:"threshold"`
	// Failing are the findings that failed it, in the order given.
	Failing []vuln.Finding `json:"failing,omitempty"`
	// Suppressed are the findings an ignore entry or a VEX statement took
	// out of the evaluation, with why: recorded, not dropped.
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	// Violations are the broken rules other than the threshold, those that
	// fail and those that only warn.
	Violations []Violation `json:"violations,omitempty"`
	// Notes are what the reader should know that is neither: an ignore
	// entry that expired, a base image of unknown age.
	Notes []string `json:"notes,omitempty"`
	// Incomplete names what decides findings and could not be read: the
	// scan is INCOMPLETE, whatever the rule scan.incomplete made of it.
	Incomplete []sbom.Incompleteness `json:"incomplete,omitempty"`
}

// Status is the verdict in a word or two: PASS or FAIL, or INCOMPLETE when
// only the incompleteness failed it; a pass or a failure of an incomplete
// scan says INCOMPLETE too.
func (v Verdict) Status() string {
	switch {
	case len(v.Incomplete) == 0 && v.Pass:
		return "PASS"
	case len(v.Incomplete) == 0:
		return "FAIL"
	case v.Pass:
		return "PASS, INCOMPLETE"
	case len(v.Failing) == 0 && !slices.ContainsFunc(v.Violations, func(x Violation) bool { return x.Action == Fail && x.Rule != RuleIncomplete }):
		return "INCOMPLETE"
	}
	return "FAIL, INCOMPLETE"
}

func (t Threshold) String() string {
	if t.FailOn.None {
		return "fail on: none"
	}
	s := "fail on: " + t.FailOn.String() + " or higher"
	if t.FailOn.Severity == vuln.Unknown {
		s = "fail on: any severity, unknown included"
	}
	if t.OnlyFixable {
		s += ", fixable only"
	}
	if t.Scope == ScopeAdded {
		s += ", scope added: inherited findings do not gate"
	}
	return s
}

// ParseAction reads fail, warn or off.
func ParseAction(s string) (Action, error) {
	switch a := Action(strings.ToLower(strings.TrimSpace(s))); a {
	case Fail, Warn, Off:
		return a, nil
	}
	return "", fmt.Errorf("%q: want fail, warn or off", s)
}

// Reasons lists why a verdict failed: one line a failing finding (id,
// package, installed -> fixed version, severity), then RuleReasons.
func (v Verdict) Reasons() []string {
	out := make([]string, 0, len(v.Failing)+len(v.Violations))
	for _, f := range v.Failing {
		out = append(out, fmt.Sprintf("%s %s %s %s -> %s (%s)", f.Severity, f.ID, f.Package.Name, f.Package.Version, f.Fix(), v.Threshold))
	}
	return append(out, v.RuleReasons()...)
}

// RuleReasons lists the failing rules other than the threshold, one line
// each; an incomplete scan's places not read follow its rule, indented.
func (v Verdict) RuleReasons() []string {
	var out []string
	for _, x := range v.Violations {
		if x.Action != Fail {
			continue
		}
		out = append(out, x.String())
		if x.Rule == RuleIncomplete {
			for _, gap := range v.Incomplete {
				out = append(out, "  not read: "+gap.String())
			}
		}
	}
	return out
}
