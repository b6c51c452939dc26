package vuln

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/osv-scalibr/semantic"
	"github.com/package-url/packageurl-go"
	"github.com/secure-build/secure-build/sbom"
)

// Match looks every package up in the database and returns its findings,
// in Compare's order. Packages of an ecosystem OSV does not cover, or whose
// archive was not imported, have no findings; a package whose version
// cannot be parsed is an incompleteness naming it: its findings could not
// be decided.
func (db *DB) Match(pkgs []sbom.Package) ([]Finding, []sbom.Incompleteness, error) {
	// Packages are matched in parallel, each worker with its own cache:
	// binary packages of one source package (libc6, libc-bin: glibc) look up
	// the same entries and records, read and decoded once per worker.
	workers := min(runtime.GOMAXPROCS(0), len(pkgs)/64+1)
	type result struct {
		findings []Finding
		gaps     []sbom.Incompleteness
		err      error
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &matcher{db: db, entries: map[string][]affectedEntry{}, records: map[string]record{}, versions: map[string]semantic.Version{}}
			r := &results[w]
			for i := w; i < len(pkgs) && r.err == nil; i += workers {
				var fs []Finding
				var gap *sbom.Incompleteness
				fs, gap, r.err = m.match(pkgs[i])
				r.findings = append(r.findings, fs...)
				if gap != nil {
					r.gaps = append(r.gaps, *gap)
				}
			}
		}()
	}
	wg.Wait()
	var findings []Finding
	var gaps []sbom.Incompleteness
	for _, r := range results {
		if r.err != nil {
			return nil, nil, r.err
		}
		findings = append(findings, r.findings...)
		gaps = append(gaps, r.gaps...)
	}
	gaps = append(gaps, unmatchableDistroPackages(pkgs)...)
	slices.SortStableFunc(findings, Compare)
	return findings, sbom.SortGaps(gaps), nil
}

// unmatchableDistroPackages names the distro packages that no OSV ecosystem
// can be chosen for, one incompleteness a package database: with no
// os-release, or one that names no release, their findings cannot be
// decided. A distro the data does not cover is not one: its archive is
// simply not imported.
func unmatchableDistroPackages(pkgs []sbom.Package) []sbom.Incompleteness {
	type group struct {
		typ, distro string
		n           int
	}
	var order []string
	groups := map[string]*group{}
	for _, p := range pkgs {
		if p.Type != "deb" && p.Type != "apk" && p.Type != "rpm" {
			continue
		}
		if _, ok := lookupTarget(p); ok {
			continue
		}
		where := ""
		if len(p.Locations) > 0 {
			where = p.Locations[0]
		}
		g, ok := groups[where]
		if !ok {
			g = &group{typ: p.Type, distro: distroOf(p.PURL)}
			groups[where] = g
			order = append(order, where)
		}
		g.n++
	}
	var out []sbom.Incompleteness
	for _, where := range order {
		g := groups[where]
		reason := fmt.Sprintf("%d %s packages, but /etc/os-release names no distribution release: their vulnerabilities cannot be matched", g.n, g.typ)
		if g.distro != "" {
			reason = fmt.Sprintf("%d %s packages of the distribution %q, for which no OSV ecosystem is known (an unknown ID, or no VERSION_ID in /etc/os-release): their vulnerabilities cannot be matched", g.n, g.typ, g.distro)
		}
		out = append(out, sbom.Incompleteness{Path: where, Reason: reason})
	}
	return out
}

// distroOf is a purl's distro qualifier, or its namespace.
func distroOf(purl string) string {
	p, err := packageurl.FromString(purl)
	if err != nil {
		return ""
	}
	if d := p.Qualifiers.Map()["distro"]; d != "" {
		return d
	}
	return p.Namespace
}

// match returns the findings of one package, or an incompleteness when its
// version cannot be read.
func (m *matcher) match(p sbom.Package) ([]Finding, *sbom.Incompleteness, error) {
	t, ok := lookupTarget(p)
	if !ok {
		return nil, nil, nil
	}
	entries, err := m.lookup(t)
	if err != nil || len(entries) == 0 {
		return nil, nil, err
	}
	matches, err := m.matchEntries(t, entries)
	if err != nil {
		gap := sbom.Incompleteness{Reason: fmt.Sprintf("%s: %v", p.PURL, err)}
		if len(p.Locations) > 0 {
			gap.Path = p.Locations[0]
		}
		return nil, &gap, nil
	}
	fs, err := m.fold(p, t, matches)
	return fs, nil, err
}

// matcher is one Match worker's view of the database, with what it has
// read and the versions it has parsed (a kernel's thousands of records name
// the same versions again and again).
type matcher struct {
	db       *DB
	entries  map[string][]affectedEntry
	records  map[string]record
	versions map[string]semantic.Version
}

func (m *matcher) parse(raw, ecosystem string) (semantic.Version, error) {
	key := ecosystem + "\x00" + raw
	if v, ok := m.versions[key]; ok {
		return v, nil
	}
	v, err := semantic.Parse(raw, ecosystem)
	if err != nil {
		return nil, err
	}
	m.versions[key] = v
	return v, nil
}

func (m *matcher) lookup(t target) ([]affectedEntry, error) {
	key := packageKey(t.ecosystem, t.name)
	if es, ok := m.entries[key]; ok {
		return es, nil
	}
	es, err := m.db.entries(t.ecosystem, t.name)
	if err != nil {
		return nil, err
	}
	m.entries[key] = es
	return es, nil
}

func (m *matcher) record(archive, id string) (record, error) {
	key := archive + "\x00" + id
	if r, ok := m.records[key]; ok {
		return r, nil
	}
	r, err := m.db.record(archive, id)
	if err != nil {
		return r, err
	}
	m.records[key] = r
	return r, nil
}

// entryMatch is one affected entry that covers the installed version.
type entryMatch struct {
	entry affectedEntry
	fixed string
}

func (m *matcher) matchEntries(t target, entries []affectedEntry) ([]entryMatch, error) {
	installed, err := m.parse(t.version, t.ecosystem)
	if err != nil {
		return nil, fmt.Errorf("%s version %q: %w", t.ecosystem, t.version, err)
	}
	var out []entryMatch
	for _, e := range entries {
		if fixed, ok := m.affects(e, t, installed); ok {
			out = append(out, entryMatch{entry: e, fixed: fixed})
		}
	}
	return out, nil
}

// affects says whether an affected entry covers the installed version, and
// the version that fixes it when one does.
func (m *matcher) affects(e affectedEntry, t target, installed semantic.Version) (string, bool) {
	for _, v := range e.Versions {
		if v == t.version {
			return "", true
		}
	}
	for _, r := range e.Ranges {
		if fixed, ok := m.inRange(r, t, installed); ok {
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
func (m *matcher) inRange(r osvRange, t target, installed semantic.Version) (string, bool) {
	ecosystem := t.ecosystem
	if r.Type == "SEMVER" {
		ecosystem = "Go" // plain SemVer, whatever the package's ecosystem
		if s, err := m.parse(strings.TrimPrefix(t.version, "v"), ecosystem); err == nil {
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
		v, err := m.parse(raw, ecosystem)
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
func (m *matcher) fold(p sbom.Package, t target, matches []entryMatch) ([]Finding, error) {
	// Union-find over ids: a record joins its id with each of its aliases.
	parent := map[string]string{}
	var find func(string) string
	find = func(id string) string {
		up, ok := parent[id]
		if !ok || up == id {
			parent[id] = id
			return id
		}
		root := find(up)
		parent[id] = root
		return root
	}
	records := make([]record, len(matches))
	for i, match := range matches {
		rec, err := m.record(match.entry.archive, match.entry.ID)
		if err != nil {
			return nil, err
		}
		records[i] = rec
		for _, alias := range rec.Aliases {
			if a, b := find(rec.ID), find(alias); a != b {
				parent[a] = b
			}
		}
	}
	members := map[string][]int{}
	var roots []string
	for i, rec := range records {
		root := find(rec.ID)
		if _, ok := members[root]; !ok {
			roots = append(roots, root)
		}
		members[root] = append(members[root], i)
	}
	out := make([]Finding, 0, len(roots))
	for _, root := range roots {
		out = append(out, m.finding(p, t, records, matches, members[root]))
	}
	return out, nil
}

// finding makes one finding of the folded records at idx.
func (m *matcher) finding(p sbom.Package, t target, records []record, matches []entryMatch, idx []int) Finding {
	idSet, upstream := map[string]bool{}, map[string]bool{}
	folded := make([]entryMatch, 0, len(idx))
	for _, i := range idx {
		idSet[records[i].ID] = true
		for _, a := range records[i].Aliases {
			idSet[a] = true
		}
		for _, u := range records[i].Upstream {
			upstream[u] = true
		}
		folded = append(folded, matches[i])
	}
	ids := sortedIDs(idSet)
	f := Finding{
		ID:      ids[0],
		Aliases: ids[1:],
		Package: Package{
			Name: p.Name, Version: p.Version, PURL: p.PURL, Locations: p.Locations,
			Ecosystem: t.ecosystem, MatchName: t.name, MatchVersion: t.version,
		},
	}
	for id := range upstream {
		if !idSet[id] {
			f.Upstream = append(f.Upstream, id)
		}
	}
	sort.Strings(f.Upstream)
	var best rating
	for _, i := range idx {
		rec := records[i]
		r := rec.Rating
		if own := matches[i].entry.Rating; own != nil {
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
	f.FixedVersion = m.highestFix(folded, t.ecosystem)
	return f
}

// highestFix is the version that fixes every folded record: the highest of
// their fixes. Without any fix it is empty.
func (m *matcher) highestFix(matches []entryMatch, ecosystem string) string {
	var best string
	var bestV semantic.Version
	for _, match := range matches {
		if match.fixed == "" {
			continue
		}
		v, err := m.parse(match.fixed, ecosystem)
		if err != nil {
			continue
		}
		if bestV == nil {
			best, bestV = match.fixed, v
			continue
		}
		if c, err := v.Compare(bestV); err == nil && c > 0 {
			best, bestV = match.fixed, v
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
