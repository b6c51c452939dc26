package vuln

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/osv-scalibr/semantic"
	"github.com/secure-build/secure-build/sbom"
)

// Match looks every package up in the database and returns its findings,
// sorted by severity (highest first), then package, then id. Packages of an
// ecosystem OSV does not cover, or whose archive was not imported, have no
// findings; a version that cannot be parsed is a warning naming the package.
func (db *DB) Match(pkgs []sbom.Package) ([]Finding, []string, error) {
	var findings []Finding
	var warnings []string
	for _, p := range pkgs {
		t, ok := lookupTarget(p)
		if !ok {
			continue
		}
		entries, err := db.entries(t.ecosystem, t.name)
		if err != nil {
			return nil, warnings, err
		}
		if len(entries) == 0 {
			continue
		}
		matches, err := matchEntries(t, entries)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: %v", p.PURL, err))
			continue
		}
		fs, err := db.fold(p, t, matches)
		if err != nil {
			return nil, warnings, err
		}
		findings = append(findings, fs...)
	}
	SortFindings(findings)
	return findings, warnings, nil
}

// SortFindings orders findings by severity (highest first), fixable first,
// then package name, version and id.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Fixable() != b.Fixable() {
			return a.Fixable()
		}
		if a.Package.Name != b.Package.Name {
			return a.Package.Name < b.Package.Name
		}
		if a.Package.PURL != b.Package.PURL {
			return a.Package.PURL < b.Package.PURL
		}
		return a.ID < b.ID
	})
}

// entryMatch is one affected entry that covers the installed version.
type entryMatch struct {
	entry affectedEntry
	fixed string
}

func matchEntries(t target, entries []affectedEntry) ([]entryMatch, error) {
	installed, err := semantic.Parse(t.version, t.ecosystem)
	if err != nil {
		return nil, fmt.Errorf("%s version %q: %w", t.ecosystem, t.version, err)
	}
	var out []entryMatch
	for _, e := range entries {
		if fixed, ok := affects(e, t, installed); ok {
			out = append(out, entryMatch{entry: e, fixed: fixed})
		}
	}
	return out, nil
}

// affects says whether an affected entry covers the installed version, and
// the version that fixes it when one does.
func affects(e affectedEntry, t target, installed semantic.Version) (string, bool) {
	for _, v := range e.Versions {
		if v == t.version {
			return "", true
		}
	}
	for _, r := range e.Ranges {
		if fixed, ok := inRange(r, t, installed); ok {
			return fixed, true
		}
	}
	return "", false
}

// inRange evaluates an OSV range's events as the schema defines them: in
// version order, an "introduced" at or below the installed version opens
// the range, and a "fixed" or "limit" at or below it, or a "last_affected"
// below it, closes it. The fix is the first "fixed" above the installed
// version that closes the interval it is in.
func inRange(r osvRange, t target, installed semantic.Version) (string, bool) {
	ecosystem := t.ecosystem
	if r.Type == "SEMVER" {
		ecosystem = "Go" // plain SemVer, whatever the package's ecosystem
		if s, err := semantic.Parse(strings.TrimPrefix(t.version, "v"), ecosystem); err == nil {
			installed = s
		}
	}
	type point struct {
		v    semantic.Version
		raw  string
		kind int // 0 introduced, 1 fixed, 2 last_affected, 3 limit
	}
	var points []point
	for _, ev := range r.Events {
		raw, kind := ev.Introduced, 0
		switch {
		case ev.Fixed != "":
			raw, kind = ev.Fixed, 1
		case ev.LastAffected != "":
			raw, kind = ev.LastAffected, 2
		case ev.Limit != "":
			raw, kind = ev.Limit, 3
		}
		if raw == "" {
			continue
		}
		if kind == 0 && raw == "0" {
			points = append(points, point{raw: raw, kind: kind})
			continue
		}
		v, err := semantic.Parse(raw, ecosystem)
		if err != nil {
			continue // an unparseable event cannot place the version
		}
		points = append(points, point{v: v, raw: raw, kind: kind})
	}
	cmp := func(a, b point) int {
		switch {
		case a.v == nil && b.v == nil:
			return 0
		case a.v == nil:
			return -1
		case b.v == nil:
			return 1
		}
		c, err := a.v.Compare(b.v)
		if err != nil {
			return 0
		}
		return c
	}
	sort.SliceStable(points, func(i, j int) bool { return cmp(points[i], points[j]) < 0 })
	affected := false
	for i, p := range points {
		c := -1 // introduced "0" is below every version
		if p.v != nil {
			var err error
			if c, err = p.v.Compare(installed); err != nil {
				continue
			}
		}
		switch p.kind {
		case 0:
			if c <= 0 {
				affected = true
			}
		case 1, 3:
			if c <= 0 {
				affected = false
			}
		case 2:
			if c < 0 {
				affected = false
			}
		}
		if c > 0 {
			// Every later point is above the installed version: the state is
			// final. The next closing "fixed" is the fix.
			if !affected {
				return "", false
			}
			for _, q := range points[i:] {
				if q.kind == 1 {
					return q.raw, true
				}
				if q.kind != 0 {
					break
				}
			}
			return "", true
		}
	}
	return "", affected
}

// fold turns the matched entries of one package into findings: records that
// name each other (id or alias) are one finding keeping all their ids; each
// record's upstream ids stay on its finding without folding anything.
func (db *DB) fold(p sbom.Package, t target, matches []entryMatch) ([]Finding, error) {
	type group struct {
		ids      map[string]bool
		records  []record
		matches  []entryMatch
		upstream map[string]bool
	}
	var groups []*group
	find := func(ids []string) []*group {
		var hit []*group
		for _, g := range groups {
			for _, id := range ids {
				if g.ids[id] {
					hit = append(hit, g)
					break
				}
			}
		}
		return hit
	}
	for _, m := range matches {
		rec, err := db.record(t.ecosystem, m.entry.ID)
		if err != nil {
			return nil, err
		}
		ids := append([]string{rec.ID}, rec.Aliases...)
		hit := find(ids)
		g := &group{ids: map[string]bool{}, upstream: map[string]bool{}}
		if len(hit) > 0 {
			g = hit[0]
			for _, other := range hit[1:] {
				for id := range other.ids {
					g.ids[id] = true
				}
				for id := range other.upstream {
					g.upstream[id] = true
				}
				g.records = append(g.records, other.records...)
				g.matches = append(g.matches, other.matches...)
				groups = removeGroup(groups, other)
			}
		} else {
			groups = append(groups, g)
		}
		for _, id := range ids {
			g.ids[id] = true
		}
		for _, id := range rec.Upstream {
			g.upstream[id] = true
		}
		g.records = append(g.records, rec)
		g.matches = append(g.matches, m)
	}
	out := make([]Finding, 0, len(groups))
	for _, g := range groups {
		ids := sortedIDs(g.ids)
		f := Finding{
			ID:      ids[0],
			Aliases: ids[1:],
			Package: Package{
				Name: p.Name, Version: p.Version, PURL: p.PURL, Locations: p.Locations,
				Ecosystem: t.ecosystem, MatchName: t.name, MatchVersion: t.version,
			},
		}
		for id := range g.upstream {
			if !g.ids[id] {
				f.Upstream = append(f.Upstream, id)
			}
		}
		sort.Strings(f.Upstream)
		var best rating
		for i, rec := range g.records {
			r := rec.Rating
			if own := g.matches[i].entry.Rating; own != nil {
				r = *own
			}
			if r.Source != "" && (best.Source == "" || r.Severity > best.Severity || (r.Severity == best.Severity && r.Score > best.Score)) {
				best = r
			}
			if f.Summary == "" || rec.ID == f.ID && rec.Summary != "" {
				f.Summary = rec.Summary
			}
			if rec.Modified > f.Modified {
				f.Modified = rec.Modified
			}
		}
		f.Severity, f.Score, f.SeveritySource = best.Severity, best.Score, best.Source
		f.FixedVersion = highestFix(g.matches, t.ecosystem)
		out = append(out, f)
	}
	return out, nil
}

func removeGroup[T comparable](s []T, x T) []T {
	for i, v := range s {
		if v == x {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

// highestFix is the version that fixes every folded record: the highest of
// their fixes. Without any fix it is empty.
func highestFix(matches []entryMatch, ecosystem string) string {
	var best string
	var bestV semantic.Version
	for _, m := range matches {
		if m.fixed == "" {
			continue
		}
		v, err := semantic.Parse(m.fixed, ecosystem)
		if err != nil {
			continue
		}
		if bestV == nil {
			best, bestV = m.fixed, v
			continue
		}
		if c, err := v.Compare(bestV); err == nil && c > 0 {
			best, bestV = m.fixed, v
		}
	}
	return best
}

// sortedIDs orders ids with CVEs first, then GHSAs, then the rest, each
// alphabetically: the first is the finding's primary id.
func sortedIDs(set map[string]bool) []string {
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	rank := func(id string) int {
		switch {
		case strings.HasPrefix(id, "CVE-"):
			return 0
		case strings.HasPrefix(id, "GHSA-"):
			return 1
		}
		return 2
	}
	sort.Slice(ids, func(i, j int) bool {
		if ri, rj := rank(ids[i]), rank(ids[j]); ri != rj {
			return ri < rj
		}
		return ids[i] < ids[j]
	})
	return ids
}
