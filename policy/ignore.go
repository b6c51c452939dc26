package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/osv-scalibr/semantic"

	"github.com/secure-build/secure-build/vuln"
)

// suppress says whether an ignore entry or a VEX statement takes f out of
// the evaluation. note is set when an entry would have, but expired.
func (p *Policy) suppress(f vuln.Finding, image []string, now time.Time) (s Suppressed, note string, ok bool) {
	for _, ig := range p.Ignore {
		if !ig.matches(f) {
			continue
		}
		source := fmt.Sprintf("%s:%d", p.Source, ig.Line)
		if ig.expired(now) {
			note = fmt.Sprintf("ignore entry for %s (%s) expired on %s; it no longer suppresses %s %s", ig.ID, source, ig.Expires.Format(time.DateOnly), f.Package.Name, f.Package.Version)
			continue
		}
		return Suppressed{Finding: f, By: "ignore", Status: "not_affected", Reason: ig.Reason, Source: source}, "", true
	}
	if s, ok := p.vexSuppress(f, image); ok {
		return s, note, true
	}
	return Suppressed{}, note, false
}

// matches says whether the entry names f: one of its ids, and its package
// and versions when the entry gives them.
func (ig Ignore) matches(f vuln.Finding) bool {
	if !slices.ContainsFunc(f.IDs(), func(id string) bool { return strings.EqualFold(id, ig.ID) }) {
		return false
	}
	if ig.Package != "" && ig.Package != f.Package.Name && ig.Package != f.Package.MatchName {
		return false
	}
	if ig.Versions == "" {
		return true
	}
	cs, err := parseConstraints(ig.Versions)
	if err != nil {
		return false // Parse has refused such a file already
	}
	return cs.allow(f.Package.Version, f.Package.Ecosystem)
}

// expired says whether the entry's last day has passed, in UTC.
func (ig Ignore) expired(now time.Time) bool {
	return !ig.Expires.IsZero() && !now.UTC().Before(ig.Expires.AddDate(0, 0, 1))
}

type constraint struct {
	op, version string
}

type constraints []constraint

// parseConstraints reads "1.2.5" or comparisons joined by commas:
// ">=1.0, <1.2.6".
func parseConstraints(s string) (constraints, error) {
	var out constraints
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		op := ""
		for _, o := range []string{">=", "<=", "==", "!=", ">", "<", "="} {
			if strings.HasPrefix(part, o) {
				op = o
				break
			}
		}
		version := strings.TrimSpace(strings.TrimPrefix(part, op))
		if version == "" || strings.ContainsAny(version, "<>=! ") {
			return nil, fmt.Errorf("versions %q: want a version, or comparisons (>=, >, <=, <, =, !=) joined by commas", s)
		}
		if op == "" || op == "==" {
			op = "="
		}
		out = append(out, constraint{op: op, version: version})
	}
	return out, nil
}

// allow says whether version, in the ecosystem's order, meets every
// constraint. A version the ecosystem cannot order meets only equality.
func (cs constraints) allow(version, ecosystem string) bool {
	v, parseErr := semantic.Parse(version, ecosystem)
	for _, c := range cs {
		cmp := 0
		if parseErr != nil {
			if c.op != "=" && c.op != "!=" {
				return false
			}
			if version != c.version {
				cmp = 1
			}
		} else {
			n, err := v.CompareStr(c.version)
			if err != nil {
				return false
			}
			cmp = n
		}
		ok := map[string]bool{"=": cmp == 0, "!=": cmp != 0, "<": cmp < 0, "<=": cmp <= 0, ">": cmp > 0, ">=": cmp >= 0}[c.op]
		if !ok {
			return false
		}
	}
	return true
}
