package baseimage

import (
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/vuln"
)

// Counts are findings counted once each (one vulnerability of one source
// package, however many of its binary packages are installed).
type Counts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	All      int `json:"all"`
	// Gating are those the policy's threshold fails on.
	Gating int `json:"gating"`
}

// BaseFindings are the findings of a build that its base image brought: those
// with an origin of kind base. A finding whose package is also added or
// changed by the Dockerfile is the base's too: a newer base fixes its copy.
func BaseFindings(findings []vuln.Finding) []vuln.Finding {
	var out []vuln.Finding
	for _, f := range findings {
		for _, o := range f.Package.Origins {
			if o.Kind == origin.Base {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// findingKey is one vulnerability of one package, as matched: the source
// package for a distro's.
func findingKeys(f vuln.Finding) []string {
	name := f.Package.MatchName
	if name == "" {
		name = f.Package.Name
	}
	var keys []string
	for _, id := range f.IDs() {
		keys = append(keys, name+"\x00"+id)
	}
	return keys
}

// Compare counts what a candidate image does to the base's findings: fixed
// are the base's findings the candidate does not have, introduced the
// candidate's the base does not have, remaining all the candidate's. A
// finding is the same in both when its package (source package for a
// distro) and one of its ids (aliases and upstream ids included) are.
// gates says which findings the policy fails on; nil gates none.
func Compare(base, candidate []vuln.Finding, gates func(vuln.Finding) bool) (fixed, introduced, remaining Counts) {
	fixed = countMissing(base, candidate, gates)
	introduced = countMissing(candidate, base, gates)
	remaining = countMissing(candidate, nil, gates)
	return fixed, introduced, remaining
}

// countMissing counts the findings of from that in does not have, each
// vulnerability of a package once.
func countMissing(from, in []vuln.Finding, gates func(vuln.Finding) bool) Counts {
	have := map[string]bool{}
	for _, f := range in {
		for _, k := range findingKeys(f) {
			have[k] = true
		}
	}
	var c Counts
	seen := map[string]bool{}
	for _, f := range from {
		keys := findingKeys(f)
		if seen[keys[0]] || anyOf(keys, have) {
			continue
		}
		seen[keys[0]] = true
		c.All++
		switch f.Severity {
		case vuln.Critical:
			c.Critical++
		case vuln.High:
			c.High++
		}
		if gates != nil && gates(f) {
			c.Gating++
		}
	}
	return c
}

func anyOf(keys []string, set map[string]bool) bool {
	for _, k := range keys {
		if set[k] {
			return true
		}
	}
	return false
}
