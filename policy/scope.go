package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/vuln"
)

// Scope says which findings the threshold and the counts gate, by where
// their packages came from.
type Scope string

const (
	// ScopeAll gates every finding: the default.
	ScopeAll Scope = "all"
	// ScopeAdded gates only the findings of packages the build added or
	// changed: "no new vulnerabilities beyond the base image". Inherited
	// findings are still reported.
	ScopeAdded Scope = "added"
)

// ParseScope reads all or added.
func ParseScope(s string) (Scope, error) {
	switch sc := Scope(strings.ToLower(strings.TrimSpace(s))); sc {
	case ScopeAll, ScopeAdded:
		return sc, nil
	}
	return "", fmt.Errorf("%q: want all or added", s)
}

// Inherited says whether every origin of the finding's package is the base
// image. A finding without origins is not inherited: nothing attributed it,
// and a gate on what a build added fails closed.
func Inherited(f vuln.Finding) bool {
	return len(f.Package.Origins) > 0 && !slices.ContainsFunc(f.Package.Origins, origin.Origin.Added)
}

// Unattributed says whether nothing placed the finding's package: it has no
// origin, or only unknown ones.
func Unattributed(f vuln.Finding) bool {
	return !slices.ContainsFunc(f.Package.Origins, func(o origin.Origin) bool { return o.Kind != origin.Unknown })
}

// inScope says whether the scope lets the finding gate.
func (t Threshold) inScope(f vuln.Finding) bool {
	return t.Scope != ScopeAdded || !Inherited(f)
}

// unattributedNote says, under scope added, how many findings gate only
// because nothing attributed them; "" when none does.
func (t Threshold) unattributedNote(findings []vuln.Finding) string {
	if t.Scope != ScopeAdded {
		return ""
	}
	n := 0
	for _, f := range findings {
		if Unattributed(f) {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("scope added: %s could not be attributed to the base image or a Dockerfile line, so %s counted as added (fail closed)",
		plural(n, "finding", "findings"), pluralVerb(n, "it is", "they are"))
}

func pluralVerb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
