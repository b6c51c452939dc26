package attest

import (
	"slices"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/vuln"
)

// WithOrigins gives each finding without origins those the build's scan
// reported for the same package (by purl): a verify matches the attested
// SBOM again, and the SBOM does not say where a package came from. A
// package the build reported no finding for keeps none, so that a gate on
// what the build added counts it (fail closed).
func (s *Scan) WithOrigins(findings []vuln.Finding) []vuln.Finding {
	byPURL := map[string][]origin.Origin{}
	for _, f := range s.Findings() {
		if f.Package.PURL != "" && len(f.Package.Origins) > 0 {
			byPURL[f.Package.PURL] = f.Package.Origins
		}
	}
	out := slices.Clone(findings)
	for i, f := range out {
		if len(f.Package.Origins) == 0 {
			out[i].Package.Origins = byPURL[f.Package.PURL]
		}
	}
	return out
}
