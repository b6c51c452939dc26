// Package vuln keeps an offline index of OSV vulnerability records and
// matches cataloged packages against it, each ecosystem by its own version
// order. It knows nothing of BuildKit or of policy: it says what affects a
// package, how badly and what fixes it.
package vuln

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/secure-build/secure-build/origin"
)

// Severity is a finding's level. Unknown is a level of its own: a record
// with no score and no rating.
type Severity int

// The levels, lowest first.
const (
	Unknown Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"unknown", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Unknown || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a level by name, any case; GHSA's "moderate" is medium.
func ParseSeverity(name string) (Severity, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "moderate" {
		return Medium, nil
	}
	for i, s := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return Unknown, fmt.Errorf("severity %q: want one of %s", name, strings.Join(severityNames, ", "))
}

// MarshalText writes the level's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a level's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Finding is one vulnerability of one package. Records that name each other
// as aliases fold into one finding; the ids of them all are kept.
type Finding struct {
	// ID is the finding's primary id: the first of the folded records'
	// ids in a stable order (CVE first, then GHSA, then the rest).
	ID string `json:"id"`
	// Aliases are the other ids of the same vulnerability.
	Aliases []string `json:"aliases,omitempty"`
	// Upstream are the ids a distro record names as its upstream (the CVEs
	// of a DSA); they do not fold findings.
	Upstream []string `json:"upstream,omitempty"`
	Package  Package  `json:"package"`
	// FixedVersion is the version that fixes it, empty when none does yet.
	FixedVersion string   `json:"fixedVersion,omitempty"`
	Severity     Severity `json:"severity"`
	// Score is the CVSS base score the severity came from, 0 without one.
	Score float64 `json:"score,omitempty"`
	// SeveritySource says where the severity came from: "CVSS_V4",
	// "CVSS_V3", "GHSA", the distro's rating, or "" for unknown.
	SeveritySource string `json:"severitySource,omitempty"`
	Summary        string `json:"summary,omitempty"`
	// Modified is when the newest of the folded records last changed.
	Modified string `json:"modified,omitempty"`
}

// Fixable says whether a fixed version exists.
func (f Finding) Fixable() bool { return f.FixedVersion != "" }

// NoFix is how every message and report says that no version fixes a
// finding yet.
const NoFix = "no fix yet"

// Fix is the version that fixes the finding, or NoFix.
func (f Finding) Fix() string {
	if f.FixedVersion == "" {
		return NoFix
	}
	return f.FixedVersion
}

// Compare orders findings as every output lists them: highest severity
// first, within a severity the fixable ones first (what a person can act on
// now), then package, then id; version and purl only break ties, so that
// equal input gives equal output.
func Compare(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(fixRank(a), fixRank(b)),
		cmp.Compare(a.Package.Name, b.Package.Name),
		cmp.Compare(a.ID, b.ID),
		cmp.Compare(a.Package.Version, b.Package.Version),
		cmp.Compare(a.Package.PURL, b.Package.PURL),
	)
}

// fixRank puts a finding with a fixed version before one without.
func fixRank(f Finding) int {
	if f.Fixable() {
		return 0
	}
	return 1
}

// Sorted returns a copy of findings in Compare's order.
func Sorted(findings []Finding) []Finding {
	out := slices.Clone(findings)
	slices.SortStableFunc(out, Compare)
	return out
}

// Same says whether g is the same finding as f: the same vulnerability in
// the same package.
func (f Finding) Same(g Finding) bool {
	return f.ID == g.ID && f.Package.PURL == g.Package.PURL && f.Package.Name == g.Package.Name && f.Package.Version == g.Package.Version
}

// IDs are all the finding's ids: its own, its aliases and its upstream ids.
func (f Finding) IDs() []string {
	out := append([]string{f.ID}, f.Aliases...)
	return append(out, f.Upstream...)
}

// Package is the affected package as the SBOM named it, and how it was
// matched: the ecosystem, name and version looked up in OSV.
type Package struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	PURL      string   `json:"purl"`
	Locations []string `json:"locations,omitempty"`
	// Ecosystem, MatchName and MatchVersion are what was matched: for a
	// distro package, the source package.
	Ecosystem    string `json:"ecosystem"`
	MatchName    string `json:"matchName"`
	MatchVersion string `json:"matchVersion"`
	// Origins say where the package came from, one for each distinct
	// origin of its locations; empty when nothing attributed it.
	Origins []origin.Origin `json:"origins,omitempty"`
}
