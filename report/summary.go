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
	t := count(findings)
	if t.all.total == 0 {
		return "no vulnerabilities"
	}
	var parts []string
	for _, sev := range severities {
		if c := t.bySeverity[sev]; c.total > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d fixable of %d", sev, c.fixable, c.total))
		}
	}
	return strings.Join(parts, ", ")
}
