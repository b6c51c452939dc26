package report

import (
	"fmt"
	"strings"

	"github.com/secure-build/secure-build/vuln"
)

// Summary counts findings by severity in one line, highest first, the
// fixable count before the total: "critical: 1 fixable of 2, high: 0 fixable of 3".
// No findings is "no vulnerabilities".
func Summary(findings []vuln.Finding) string {
	return summary(findings, nil)
}

// ScanSummary is Summary of a scan's findings, saying how many of each
// severity the policy suppressed: a PASS next to "high: 1 fixable of 1"
// must say why it passed, "high: 1 fixable of 1 (1 suppressed)".
func ScanSummary(s *Scan) string {
	return summary(s.Findings, countSuppressed(s.Verdict.Suppressed))
}

func summary(findings []vuln.Finding, suppressed map[vuln.Severity]int) string {
	t := count(findings)
	if t.all.total == 0 {
		return "no vulnerabilities"
	}
	var parts []string
	for _, sev := range severities {
		c := t.bySeverity[sev]
		if c.total == 0 {
			continue
		}
		part := fmt.Sprintf("%s: %d fixable of %d", sev, c.fixable, c.total)
		if n := suppressed[sev]; n > 0 {
			part += fmt.Sprintf(" (%d suppressed)", n)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
