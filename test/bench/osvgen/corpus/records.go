package corpus

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/osv-scalibr/semantic"
)

// OSV JSON, as the schema writes it (fields in the schema's order).
type osvRecord struct {
	SchemaVersion    string         `json:"schema_version"`
	ID               string         `json:"id"`
	Modified         string         `json:"modified"`
	Published        string         `json:"published,omitempty"`
	Withdrawn        string         `json:"withdrawn,omitempty"`
	Aliases          []string       `json:"aliases,omitempty"`
	Related          []string       `json:"related,omitempty"`
	Upstream         []string       `json:"upstream,omitempty"`
	Summary          string         `json:"summary,omitempty"`
	Details          string         `json:"details,omitempty"`
	Severity         []osvSeverity  `json:"severity,omitempty"`
	Affected         []osvAffected  `json:"affected"`
	References       []osvReference `json:"references,omitempty"`
	DatabaseSpecific map[string]any `json:"database_specific,omitempty"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

type osvAffected struct {
	Package           osvPackage     `json:"package"`
	Severity          []osvSeverity  `json:"severity,omitempty"`
	Ranges            []osvRange     `json:"ranges,omitempty"`
	Versions          []string       `json:"versions,omitempty"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  map[string]any `json:"database_specific,omitempty"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Repo   string     `json:"repo,omitempty"`
	Events []osvEvent `json:"events"`
}

type osvEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// gen writes the records of one archive; each archive has its own random
// stream, so archives can be written in parallel and stay deterministic.
type gen struct {
	r       *rand.Rand
	archive string
	cveBase int // CVE numbers of this archive start here (no clash across archives)
	cveSeq  int
	idSeq   int
	ghsa    map[string]bool
	emit    func(rec *osvRecord) error
}

func (g *gen) cve() string {
	g.cveSeq++
	return fmt.Sprintf("CVE-%d-%d", 2016+g.r.IntN(10), g.cveBase+g.cveSeq)
}

const ghsaAlphabet = "23456789cfghjmpqrvwx"

func (g *gen) ghsaID() string {
	for {
		b := []byte("GHSA-xxxx-xxxx-xxxx")
		for i := range b {
			if b[i] == 'x' {
				b[i] = ghsaAlphabet[g.r.IntN(len(ghsaAlphabet))]
			}
		}
		if id := string(b); !g.ghsa[id] {
			g.ghsa[id] = true
			return id
		}
	}
}

var epochStart = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)

func (g *gen) times() (published, modified string) {
	p := epochStart.Add(time.Duration(g.r.IntN(3600*24*365*9)) * time.Second)
	m := p.Add(time.Duration(g.r.IntN(3600*24*700)) * time.Second)
	return p.Format(time.RFC3339), m.Format(time.RFC3339)
}

var prose = strings.Fields(`the a an of in when via by to allows attacker remote local crafted
request input parsing buffer overflow out-of-bounds read write use-after-free denial service
memory corruption injection arbitrary code execution path traversal header cookie certificate
validation integer signedness race condition null pointer dereference infinite loop resource
exhaustion prototype pollution regular expression redirect cross-site scripting server-side
forgery deserialization untrusted data handling function component library version before
after affected fixed issue vulnerability could lead information disclosure privilege escalation
authentication bypass timing side channel decompression archive symlink`)

func (g *gen) sentence(minWords, maxWords int) string {
	n := minWords + g.r.IntN(maxWords-minWords+1)
	words := make([]string, n)
	for i := range words {
		words[i] = prose[g.r.IntN(len(prose))]
	}
	s := strings.Join(words, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func (g *gen) details(minSentences, maxSentences int) string {
	n := minSentences + g.r.IntN(maxSentences-minSentences+1)
	var parts []string
	for range n {
		parts = append(parts, g.sentence(8, 24))
	}
	return strings.Join(parts, " ")
}

var cvssValues = [][]string{
	{"AV:N", "AV:A", "AV:L", "AV:P"}, {"AC:L", "AC:H"}, {"PR:N", "PR:L", "PR:H"}, {"UI:N", "UI:R"},
	{"S:U", "S:C"}, {"C:N", "C:L", "C:H"}, {"I:N", "I:L", "I:H"}, {"A:N", "A:L", "A:H"},
}

func (g *gen) cvss3() string {
	parts := []string{"CVSS:3.1"}
	for _, vals := range cvssValues {
		// Skewed to the first value (network, low complexity): as in real data.
		i := g.r.IntN(len(vals))
		if g.r.IntN(2) == 0 {
			i = 0
		}
		if strings.HasPrefix(vals[0], "C:") || strings.HasPrefix(vals[0], "I:") || strings.HasPrefix(vals[0], "A:") {
			i = len(vals) - 1 - i // confidentiality/integrity/availability: mostly high
		}
		parts = append(parts, vals[i])
	}
	return strings.Join(parts, "/")
}

func (g *gen) cvss4() string {
	pick := func(name string, vals ...string) string { return name + ":" + vals[g.r.IntN(len(vals))] }
	return strings.Join([]string{"CVSS:4.0",
		pick("AV", "N", "A", "L", "P"), pick("AC", "L", "H"), pick("AT", "N", "P"), pick("PR", "N", "L", "H"),
		pick("UI", "N", "P", "A"), pick("VC", "H", "L", "N"), pick("VI", "H", "L", "N"), pick("VA", "H", "L", "N"),
		pick("SC", "N", "L", "H"), pick("SI", "N", "L", "H"), pick("SA", "N", "L", "H"),
	}, "/")
}

func (g *gen) references(pkg string, n int) []osvReference {
	types := []string{"ADVISORY", "WEB", "REPORT", "FIX", "PACKAGE", "ARTICLE"}
	out := make([]osvReference, n)
	for i := range out {
		out[i] = osvReference{Type: types[g.r.IntN(len(types))],
			URL: fmt.Sprintf("https://example.org/%s/%s/%d", strings.ToLower(g.archive), strings.ReplaceAll(pkg, ":", "/"), g.r.IntN(1_000_000))}
	}
	return out
}

func (g *gen) ghsaSeverity() string {
	return []string{"LOW", "MODERATE", "MODERATE", "HIGH", "HIGH", "CRITICAL"}[g.r.IntN(6)]
}

func (g *gen) maybeWithdraw(rec *osvRecord) {
	if g.r.IntN(200) == 0 {
		rec.Withdrawn = rec.Modified
		rec.Summary = "Withdrawn: " + rec.Summary
	}
}

// ----------------------------------------------------- language records ---

// intervals picks 1 to 3 affected intervals over a release history and
// returns the events (ECOSYSTEM or SEMVER) and the affected versions.
func (g *gen) intervals(versions []string) ([]osvEvent, []string) {
	n := 1
	if g.r.IntN(5) == 0 {
		n = 2 + g.r.IntN(2)
	}
	L := len(versions)
	var events []osvEvent
	var affected []string
	pos := 0
	for k := 0; k < n && pos < L; k++ {
		span := L - pos
		i := pos + g.r.IntN(span)
		if k == 0 && g.r.IntN(4) == 0 {
			i = 0
		}
		intro := versions[i]
		if i == 0 && g.r.IntN(2) == 0 {
			intro = "0"
		}
		j := i + 1 + g.r.IntN(min(L-i, 12))
		events = append(events, osvEvent{Introduced: intro})
		switch {
		case j >= L && g.r.IntN(3) == 0:
			// No fix yet; the last release is named as last affected.
			events = append(events, osvEvent{LastAffected: versions[L-1]})
			j = L
		case j >= L:
			// No fix yet and no bound.
			j = L
		case g.r.IntN(12) == 0:
			// Known last affected, no fix named.
			events = append(events, osvEvent{LastAffected: versions[j-1]})
		default:
			events = append(events, osvEvent{Fixed: versions[j]})
		}
		affected = append(affected, versions[i:j]...)
		pos = j + 1 + g.r.IntN(4)
		if j >= L {
			break
		}
	}
	return events, affected
}

// language writes the records of a language ecosystem for one package.
func (g *gen) language(u *universe, p *pkgInfo) error {
	left := p.records
	for left > 0 {
		var err error
		switch g.archive {
		case "npm", "Maven":
			err = g.ghsaRecord(u, p, nil)
			left--
		case "PyPI":
			if g.r.IntN(2) == 0 {
				pair := left >= 2 && g.r.IntN(2) == 0
				err = g.pysecRecord(p, pair)
				left--
				if pair {
					left--
				}
			} else {
				err = g.ghsaRecord(u, p, nil)
				left--
			}
		case "Go":
			pair := left >= 2 && g.r.IntN(2) == 0
			err = g.goRecord(p, pair)
			left--
			if pair {
				left--
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) affectedLanguage(p *pkgInfo, rangeType string) (osvAffected, []string) {
	events, versions := g.intervals(p.versions)
	a := osvAffected{Package: osvPackage{Ecosystem: g.archive, Name: p.name}, Ranges: []osvRange{{Type: rangeType, Events: events}}}
	return a, versions
}

// ghsaRecord is a GitHub advisory: CVE alias (mostly), CVSS vector (mostly),
// database_specific.severity always; sometimes two packages affected,
// sometimes the affected versions listed too. extraAliases are ids of the
// records it pairs with.
func (g *gen) ghsaRecord(u *universe, p *pkgInfo, extraAliases []string) error {
	pub, mod := g.times()
	rec := &osvRecord{SchemaVersion: "1.6.0", ID: g.ghsaID(), Published: pub, Modified: mod}
	if g.r.IntN(100) < 85 {
		rec.Aliases = append(rec.Aliases, g.cve())
	}
	rec.Aliases = append(rec.Aliases, extraAliases...)
	return g.fillGHSA(u, p, rec)
}

func (g *gen) fillGHSA(u *universe, p *pkgInfo, rec *osvRecord) error {
	rec.Summary = fmt.Sprintf("%s vulnerable to %s", p.name, strings.TrimSuffix(strings.ToLower(g.sentence(2, 5)), "."))
	rec.Details = g.details(2, 8)
	if g.r.IntN(100) < 70 {
		rec.Severity = append(rec.Severity, osvSeverity{Type: "CVSS_V3", Score: g.cvss3()})
	}
	if g.r.IntN(100) < 10 {
		rec.Severity = append(rec.Severity, osvSeverity{Type: "CVSS_V4", Score: g.cvss4()})
	}
	rangeType := "ECOSYSTEM"
	if g.archive == "Go" {
		rangeType = "SEMVER"
	}
	a, versions := g.affectedLanguage(p, rangeType)
	if g.r.IntN(10) == 0 && len(versions) < 40 {
		a.Versions = versions
	}
	a.DatabaseSpecific = map[string]any{"source": "https://github.com/github/advisory-database/blob/main/advisories/github-reviewed/" + rec.ID + ".json"}
	rec.Affected = append(rec.Affected, a)
	if u != nil && g.r.IntN(12) == 0 {
		pkgs := u.eco[g.archive]
		other := pkgs[g.r.IntN(len(pkgs))]
		if other != p {
			b, _ := g.affectedLanguage(other, rangeType)
			rec.Affected = append(rec.Affected, b)
		}
	}
	rec.References = g.references(p.name, 2+g.r.IntN(5))
	rec.DatabaseSpecific = map[string]any{
		"cwe_ids":            []string{fmt.Sprintf("CWE-%d", 20+g.r.IntN(900))},
		"github_reviewed":    true,
		"github_reviewed_at": rec.Modified,
		"nvd_published_at":   rec.Published,
		"severity":           g.ghsaSeverity(),
	}
	g.maybeWithdraw(rec)
	return g.emit(rec)
}

// pysecRecord is a PyPA advisory: a GIT range and an ECOSYSTEM range, and
// every affected version listed; with pair, a GHSA record aliasing it.
func (g *gen) pysecRecord(p *pkgInfo, pair bool) error {
	pub, mod := g.times()
	g.idSeq++
	rec := &osvRecord{SchemaVersion: "1.6.0", ID: fmt.Sprintf("PYSEC-%s-%d", pub[:4], g.idSeq), Published: pub, Modified: mod}
	cve := g.cve()
	var ghsa string
	rec.Aliases = []string{cve}
	if pair {
		ghsa = g.ghsaID()
		rec.Aliases = append(rec.Aliases, ghsa)
	}
	rec.Details = g.details(1, 4)
	a, versions := g.affectedLanguage(p, "ECOSYSTEM")
	a.Versions = versions
	commit := func() string { return fmt.Sprintf("%016x%016x%08x", g.r.Uint64(), g.r.Uint64(), g.r.Uint32()) }
	a.Ranges = append([]osvRange{{Type: "GIT", Repo: "https://github.com/example/" + normalizePyPI(p.name),
		Events: []osvEvent{{Introduced: "0"}, {Fixed: commit()}}}}, a.Ranges...)
	rec.Affected = []osvAffected{a}
	rec.References = g.references(p.name, 1+g.r.IntN(4))
	g.maybeWithdraw(rec)
	if err := g.emit(rec); err != nil {
		return err
	}
	if !pair {
		return nil
	}
	gh := &osvRecord{SchemaVersion: "1.6.0", ID: ghsa, Published: pub, Modified: mod, Aliases: []string{cve, rec.ID}}
	return g.fillGHSA(nil, p, gh)
}

// goRecord is a Go vulnerability database entry (SEMVER ranges, imported
// symbols); with pair, the GHSA record it names is written too.
func (g *gen) goRecord(p *pkgInfo, pair bool) error {
	pub, mod := g.times()
	g.idSeq++
	rec := &osvRecord{SchemaVersion: "1.6.0", ID: fmt.Sprintf("GO-%s-%04d", pub[:4], g.idSeq), Published: pub, Modified: mod}
	cve := g.cve()
	ghsa := g.ghsaID()
	rec.Aliases = []string{cve, ghsa}
	rec.Summary = fmt.Sprintf("%s in %s", strings.TrimSuffix(g.sentence(2, 5), "."), p.name)
	rec.Details = g.details(1, 5)
	a, _ := g.affectedLanguage(p, "SEMVER")
	a.EcosystemSpecific = map[string]any{"imports": []map[string]any{{
		"path": p.name + "/" + word(g.r, 1, 2), "symbols": []string{"Parse", "Reader.Read", "New" + strings.ToUpper(word(g.r, 1, 1))},
	}}}
	rec.Affected = []osvAffected{a}
	rec.References = g.references(p.name, 1+g.r.IntN(4))
	rec.DatabaseSpecific = map[string]any{"url": "https://pkg.go.dev/vuln/" + rec.ID, "review_status": "REVIEWED"}
	g.maybeWithdraw(rec)
	if err := g.emit(rec); err != nil {
		return err
	}
	if !pair {
		return nil
	}
	gh := &osvRecord{SchemaVersion: "1.6.0", ID: ghsa, Published: pub, Modified: mod, Aliases: []string{cve}}
	return g.fillGHSA(nil, p, gh)
}

// ------------------------------------------------------- Debian records ---

var urgencies = []string{"unimportant", "low", "low", "medium", "medium", "high", "not yet assigned", "end-of-life"}

func debVersion(v string) semantic.Version {
	s, err := semantic.Parse(v, "Debian")
	if err != nil {
		panic(fmt.Sprintf("corpus: Debian version %q: %v", v, err))
	}
	return s
}

func debCompare(a, b string) int {
	c, err := debVersion(a).Compare(debVersion(b))
	if err != nil {
		panic(err)
	}
	return c
}

var (
	debUpdate   = regexp.MustCompile(`\+deb(\d+)u(\d+)$`)
	debRevision = regexp.MustCompile(`-(\d+)$`)
)

// splitEpoch cuts "1:2.3-4" into "1:" and "2.3-4".
func splitEpoch(v string) (string, string) {
	if i := strings.Index(v, ":"); i > 0 {
		return v[:i+1], v[i+1:]
	}
	return "", v
}

// lower is a version dpkg orders below v, picked among the ways real
// fixes sit below an installed version: an earlier stable update, an
// earlier Debian revision, a "~" pre-version, or (with an epoch) a higher
// upstream version without the epoch.
func (g *gen) lower(v string) string {
	var cands []string
	if m := debUpdate.FindStringSubmatchIndex(v); m != nil {
		n, _ := strconv.Atoi(v[m[4]:m[5]])
		if n > 1 {
			cands = append(cands, v[:m[4]]+strconv.Itoa(n-1))
		} else {
			cands = append(cands, v[:m[0]])
		}
	} else if m := debRevision.FindStringSubmatchIndex(v); m != nil {
		n, _ := strconv.Atoi(v[m[2]:m[3]])
		if n > 1 {
			cands = append(cands, v[:m[2]]+strconv.Itoa(n-1))
		}
	}
	cands = append(cands, v+"~sb1")
	if epoch, rest := splitEpoch(v); epoch != "" {
		cands = append(cands, "9"+rest) // higher upstream, but epoch 0
	}
	out := cands[g.r.IntN(len(cands))]
	if debCompare(out, v) >= 0 {
		panic(fmt.Sprintf("corpus: lower(%q) = %q is not lower", v, out))
	}
	return out
}

// higher is a version dpkg orders above v: the next stable update, or with
// a "~" that still sorts above v.
func (g *gen) higher(v string) string {
	var cands []string
	if m := debUpdate.FindStringSubmatchIndex(v); m != nil {
		n, _ := strconv.Atoi(v[m[4]:m[5]])
		cands = append(cands, v[:m[4]]+strconv.Itoa(n+1))
	} else {
		cands = append(cands, v+"+deb12u1")
	}
	cands = append(cands, v+"+deb12u1~sb1")
	out := cands[g.r.IntN(len(cands))]
	if debCompare(out, v) <= 0 {
		panic(fmt.Sprintf("corpus: higher(%q) = %q is not higher", v, out))
	}
	return out
}

// debianEntry is an affected entry for one release, placed against the
// installed version v by kind.
func (g *gen) debianEntry(release, name, v, kind string) osvAffected {
	a := osvAffected{Package: osvPackage{Ecosystem: "Debian:" + release, Name: name}}
	ev := []osvEvent{{Introduced: "0"}}
	switch kind {
	case "fixed-below":
		ev = append(ev, osvEvent{Fixed: g.lower(v)})
	case "fixed-above":
		ev = append(ev, osvEvent{Fixed: g.higher(v)})
	case "fixed-equal":
		ev = append(ev, osvEvent{Fixed: v})
	case "unfixed":
	}
	a.Ranges = []osvRange{{Type: "ECOSYSTEM", Events: ev}}
	a.EcosystemSpecific = map[string]any{"urgency": urgencies[g.r.IntN(len(urgencies))]}
	return a
}

func (g *gen) debianKind() string {
	switch n := g.r.IntN(100); {
	case n < 55:
		return "fixed-below"
	case n < 70:
		return "fixed-above"
	case n < 85:
		return "unfixed"
	case n < 90:
		return "fixed-equal"
	}
	return ""
}

// debianRecord writes one synthetic Debian record: DEBIAN-CVE (one
// upstream CVE), DSA (several) or DLA (Debian 11 only).
func (g *gen) debianRecord(p *pkgInfo) error {
	pub, mod := g.times()
	g.idSeq++
	rec := &osvRecord{SchemaVersion: "1.6.0", Published: pub, Modified: mod}
	releases := map[string]string{"11": p.deb11, "12": p.deb12}
	switch n := g.r.IntN(100); {
	case n < 80:
		cve := g.cve()
		rec.ID = "DEBIAN-" + cve
		rec.Upstream = []string{cve}
		rec.Details = g.details(1, 4)
		for _, rel := range []string{"11", "12", "13"} {
			v := releases[rel]
			if rel == "13" {
				v = p.deb12
			}
			kind := g.debianKind()
			if kind == "" || (rel == "11" && g.r.IntN(3) == 0) {
				continue
			}
			rec.Affected = append(rec.Affected, g.debianEntry(rel, p.name, v, kind))
		}
	case n < 92:
		rec.ID = fmt.Sprintf("DSA-%d-1", 3000+g.idSeq)
		rec.Summary = p.name + " - security update"
		for range 1 + g.r.IntN(5) {
			rec.Upstream = append(rec.Upstream, g.cve())
		}
		kind := g.debianKind()
		if kind == "" || kind == "fixed-equal" || kind == "unfixed" {
			kind = "fixed-below"
		}
		rec.Affected = []osvAffected{g.debianEntry("12", p.name, p.deb12, kind)}
	default:
		rec.ID = fmt.Sprintf("DLA-%d-1", 2000+g.idSeq)
		rec.Summary = p.name + " - LTS security update"
		for range 1 + g.r.IntN(3) {
			rec.Upstream = append(rec.Upstream, g.cve())
		}
		rec.Affected = []osvAffected{g.debianEntry("11", p.name, p.deb11, "fixed-below")}
	}
	if len(rec.Affected) == 0 {
		rec.Affected = []osvAffected{g.debianEntry("12", p.name, p.deb12, "fixed-below")}
	}
	rec.References = g.references(p.name, 1+g.r.IntN(3))
	g.maybeWithdraw(rec)
	return g.emit(rec)
}

// ------------------------------------------- records about a real root ---

// Expected is a record written about a real source package, and whether it
// must match the installed version.
type Expected struct {
	Package  string `json:"package"`
	Version  string `json:"version"`
	ID       string `json:"id"`
	Case     string `json:"case"`
	Affected bool   `json:"affected"`
	Fixed    string `json:"fixed,omitempty"`
}

// realCases are the situations a Debian record can be in against an
// installed version, with their weights.
var realCases = []struct {
	name   string
	weight int
}{
	{"fixed-above", 24}, {"backport-fixed-below", 24}, {"fixed-equal", 5}, {"unfixed", 12},
	{"epoch", 8}, {"introduced-above", 5}, {"last-affected-equal", 5}, {"last-affected-below", 3},
	{"tilde-below", 3}, {"tilde-above", 3}, {"withdrawn", 3}, {"deb11-only", 5}, {"reintroduced", 5},
}

func (g *gen) realCase() string {
	total := 0
	for _, c := range realCases {
		total += c.weight
	}
	n := g.r.IntN(total)
	for _, c := range realCases {
		if n < c.weight {
			return c.name
		}
		n -= c.weight
	}
	panic("unreachable")
}

// realRecords writes records about one real source package at version v.
func (g *gen) realRecords(sp SourcePackage, expect func(Expected)) error {
	n := 1 + 25/(1+g.r.IntN(25))
	v := sp.Version
	for range n {
		pub, mod := g.times()
		g.idSeq++
		c := g.realCase()
		rec := &osvRecord{SchemaVersion: "1.6.0", Published: pub, Modified: mod}
		if g.r.IntN(5) == 0 {
			rec.ID = fmt.Sprintf("DSA-%d-1", 9000+g.idSeq)
			rec.Summary = sp.Name + " - security update"
			for range 1 + g.r.IntN(4) {
				rec.Upstream = append(rec.Upstream, g.cve())
			}
		} else {
			cve := g.cve()
			rec.ID = "DEBIAN-" + cve
			rec.Upstream = []string{cve}
			rec.Details = g.details(1, 3)
		}
		entry := osvAffected{Package: osvPackage{Ecosystem: "Debian:12", Name: sp.Name}}
		ev := []osvEvent{{Introduced: "0"}}
		affected, fixed := false, ""
		switch c {
		case "fixed-above":
			fixed = g.higher(v)
			ev = append(ev, osvEvent{Fixed: fixed})
			affected = true
		case "backport-fixed-below":
			ev = append(ev, osvEvent{Fixed: g.lower(v)})
		case "fixed-equal":
			ev = append(ev, osvEvent{Fixed: v})
		case "unfixed":
			affected = true
		case "epoch":
			epoch, rest := splitEpoch(v)
			if epoch != "" {
				// Higher upstream digits, no epoch: still below.
				ev = append(ev, osvEvent{Fixed: "9" + rest})
			} else {
				// An epoch raises a lower upstream above.
				fixed = "1:0.1-1"
				ev = append(ev, osvEvent{Fixed: fixed})
				affected = true
			}
		case "introduced-above":
			h := g.higher(v)
			ev = []osvEvent{{Introduced: h}, {Fixed: h + "+deb12u9"}}
		case "last-affected-equal":
			ev = append(ev, osvEvent{LastAffected: v})
			affected = true
		case "last-affected-below":
			ev = append(ev, osvEvent{LastAffected: g.lower(v)})
		case "tilde-below":
			ev = append(ev, osvEvent{Fixed: v + "~deb12u1"})
		case "tilde-above":
			fixed = v + "+sb1~pre1"
			ev = append(ev, osvEvent{Fixed: fixed})
			affected = true
		case "withdrawn":
			ev = append(ev, osvEvent{Fixed: g.higher(v)})
			rec.Withdrawn = mod
		case "deb11-only":
			entry.Package.Ecosystem = "Debian:11"
		case "reintroduced":
			// Fixed below, introduced again at the installed version.
			fixed = g.higher(v)
			ev = append(ev, osvEvent{Fixed: g.lower(v)}, osvEvent{Introduced: v}, osvEvent{Fixed: fixed})
			affected = true
		}
		entry.Ranges = []osvRange{{Type: "ECOSYSTEM", Events: ev}}
		entry.EcosystemSpecific = map[string]any{"urgency": urgencies[g.r.IntN(len(urgencies))]}
		rec.Affected = []osvAffected{entry}
		if c != "deb11-only" && g.r.IntN(3) == 0 {
			// The same record about Debian 11, never matching a Debian 12 root.
			rec.Affected = append(rec.Affected, osvAffected{Package: osvPackage{Ecosystem: "Debian:11", Name: sp.Name},
				Ranges: []osvRange{{Type: "ECOSYSTEM", Events: []osvEvent{{Introduced: "0"}}}}})
		}
		if g.r.IntN(4) == 0 {
			rec.Severity = []osvSeverity{{Type: "CVSS_V3", Score: g.cvss3()}}
		}
		rec.References = g.references(sp.Name, 1+g.r.IntN(3))
		if err := g.emit(rec); err != nil {
			return err
		}
		expect(Expected{Package: sp.Name, Version: v, ID: rec.ID, Case: c, Affected: affected, Fixed: fixed})
	}
	return nil
}
