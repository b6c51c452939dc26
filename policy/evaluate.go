package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// Input is what a policy is evaluated on.
type Input struct {
	Findings []vuln.Finding
	// Packages are the SBOM's packages, for the license rules; nil when
	// the caller did not read the SBOM because the policy has none.
	Packages []sbom.Package
	// Build is what a build knows and a scan does not: the Dockerfile and
	// the base image. Nil outside a build; the practices then do not apply.
	Build *BuildFacts
	// Image names the image evaluated, for VEX statements whose product is
	// the image: its identities (ImageIdentities). Empty when unknown; such
	// statements then do not apply.
	Image []string
	// Incomplete names what decides findings and could not be read
	// completely; the rule scan.incomplete says what it does.
	Incomplete []sbom.Incompleteness
	// Now is the evaluation's time, for expiries and ages.
	Now time.Time
}

// Suppressed is a finding taken out of the evaluation, and why.
type Suppressed struct {
	Finding vuln.Finding `json:"finding"`
	// By is "ignore" (an entry of the policy file) or "vex".
	By string `json:"by"`
	// Status is the VEX status: not_affected or fixed; an ignore entry
	// counts as not_affected, its reason the impact statement.
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// Source is the policy file and line, or the VEX document.
	Source string `json:"source"`
}

// Violation is a broken rule other than the severity threshold.
type Violation struct {
	// Rule is the rule's key in the file: licenses, base-image.pinned,
	// dockerfile.no-distro-upgrade, vulnerabilities.max-counts...
	Rule    string `json:"rule"`
	Action  Action `json:"action"`
	Message string `json:"message"`
	// File and Line place it in the Dockerfile, when it has a place.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

func (v Violation) String() string {
	if v.Line > 0 {
		return fmt.Sprintf("%s (%s:%d, %s)", v.Message, v.File, v.Line, v.Rule)
	}
	return fmt.Sprintf("%s (%s)", v.Message, v.Rule)
}

// NeedsPackages says whether Evaluate reads Input.Packages.
func (p *Policy) NeedsPackages() bool {
	return p.Licenses.Action != Off && (len(p.Licenses.Deny) > 0 || len(p.Licenses.Allow) > 0)
}

// Evaluate applies the policy. Ignore entries and VEX statements take
// findings out first; the threshold and the counts gate what is left; the
// license rules read the packages, and in a build the practices read the
// Dockerfile and the base image.
func (p *Policy) Evaluate(in Input) Verdict {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	v := Verdict{Pass: true, Threshold: p.describe()}
	var kept []vuln.Finding
	for _, f := range in.Findings {
		if s, note, ok := p.suppress(f, in.Image, now); ok {
			v.Suppressed = append(v.Suppressed, s)
			continue
		} else if note != "" {
			v.Notes = append(v.Notes, note)
		}
		kept = append(kept, f)
	}
	v.Failing, v.Violations = p.gate(kept)
	if note := p.Threshold.unattributedNote(v.Failing); note != "" {
		v.Notes = append(v.Notes, note)
	}
	v.Violations = append(v.Violations, p.licenseViolations(in.Packages)...)
	if in.Build != nil {
		vs, notes := p.buildViolations(in.Build, now)
		v.Violations = append(v.Violations, vs...)
		v.Notes = append(v.Notes, notes...)
	}
	if len(in.Incomplete) > 0 {
		v.Incomplete = sbom.SortGaps(in.Incomplete) // a verify has the build's and its own
		if x, ok := p.incompleteViolation(len(v.Incomplete)); ok {
			v.Violations = append(v.Violations, x)
		} else {
			v.Notes = append(v.Notes, incompleteNote(len(v.Incomplete)))
		}
	}
	v.Notes = slices.Compact(v.Notes)
	v.Pass = len(v.Failing) == 0 && !slices.ContainsFunc(v.Violations, func(x Violation) bool { return x.Action == Fail })
	return v
}

// gate applies the threshold and the per-severity counts. A severity with
// a count fails only past it, and then all its gating findings fail.
func (p *Policy) gate(findings []vuln.Finding) ([]vuln.Finding, []Violation) {
	counts := map[vuln.Severity]int{}
	for _, f := range findings {
		if p.counted(f) {
			counts[f.Severity]++
		}
	}
	var violations []Violation
	for _, sev := range []vuln.Severity{vuln.Critical, vuln.High, vuln.Medium, vuln.Low, vuln.Unknown} {
		max, ok := p.MaxCounts[sev]
		if !ok || counts[sev] <= max {
			continue
		}
		kind := ""
		if p.Threshold.OnlyFixable {
			kind = " fixable"
		}
		violations = append(violations, Violation{
			Rule:    "vulnerabilities.max-counts",
			Action:  Fail,
			Message: fmt.Sprintf("%d%s %s findings, at most %d allowed", counts[sev], kind, sev, max),
		})
	}
	var failing []vuln.Finding
	for _, f := range findings {
		max, hasMax := p.MaxCounts[f.Severity]
		if (hasMax && p.counted(f) && counts[f.Severity] > max) || (!hasMax && p.Threshold.Gates(f)) {
			failing = append(failing, f)
		}
	}
	return failing, violations
}

// counted says whether a finding counts toward its severity's maximum.
func (p *Policy) counted(f vuln.Finding) bool {
	_, ok := p.MaxCounts[f.Severity]
	return ok && (!p.Threshold.OnlyFixable || f.Fixable()) && p.Threshold.inScope(f)
}

// describe is the threshold in words, with the counts.
func (p *Policy) describe() string {
	s := p.Threshold.String()
	for _, sev := range []vuln.Severity{vuln.Critical, vuln.High, vuln.Medium, vuln.Low, vuln.Unknown} {
		if max, ok := p.MaxCounts[sev]; ok {
			s += fmt.Sprintf(", at most %d %s", max, sev)
		}
	}
	return s
}

// RuleIncomplete is the rule an incomplete scan breaks.
const RuleIncomplete = "scan.incomplete"

// incompleteViolation is the broken scan.incomplete rule for n reasons, or
// false when the policy turned it off.
func (p *Policy) incompleteViolation(n int) (Violation, bool) {
	action := p.Incomplete
	if action == "" {
		action = Fail
	}
	msg := fmt.Sprintf("the scan is INCOMPLETE: what decides findings could not be read completely in %s; a vulnerable package there would pass unseen",
		plural(n, "place", "places"))
	switch action {
	case Off:
		return Violation{}, false
	case Warn:
		msg += "; the policy lets it pass (scan.incomplete: warn)"
	}
	return Violation{Rule: RuleIncomplete, Action: action, Message: msg}, true
}

func incompleteNote(n int) string {
	return fmt.Sprintf("the scan is INCOMPLETE (%s not read completely) and the policy lets it pass without a warning (scan.incomplete: off): a vulnerable package there would pass unseen", plural(n, "place", "places"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
