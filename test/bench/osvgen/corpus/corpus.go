// Package corpus generates a synthetic OSV corpus for benchmarks: per
// ecosystem all.zip archives as OSV publishes them (one JSON record per
// entry), with a Zipf-like spread of records over package names, realistic
// ranges, aliases, upstream ids and CVSS vectors. Everything follows from a
// seed, so two runs write the same archives.
//
// Given the source packages of a real Debian root, it also writes Debian:12
// records about exactly those packages (some affect the installed version,
// some are fixed below it, some play with epochs and "~"), and says which of
// them must match, so a scanner can be checked against the expectation.
package corpus

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/package-url/packageurl-go"
)

// Version is the generator's version: a different version may write a
// different corpus from the same seed. Caches key on it.
const Version = "osvgen-1"

// Options say what to generate.
type Options struct {
	// Seed makes the corpus; the same seed, the same archives.
	Seed uint64 `json:"seed"`
	// Records is the number of synthetic records, all ecosystems together
	// (companion GHSA/PYSEC records that alias another count too).
	Records int `json:"records"`
	// Debian are real Debian 12 source packages (name, version) to write
	// records for, on top of the synthetic ones.
	Debian []SourcePackage `json:"debian,omitempty"`
}

// SourcePackage is a Debian source package and its installed version.
type SourcePackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// DefaultOptions is what the benchmarks use: 100,000 records, seed 1.
func DefaultOptions() Options { return Options{Seed: 1, Records: 100_000} }

// ecoSpec says how one ecosystem's share looks.
type ecoSpec struct {
	archive  string  // the zip's folder: "Debian", "npm"
	share    float64 // of Options.Records
	packages int     // names in the universe
	zipfS    float64 // skew of records over names
}

// The ecosystems, their share of the records and their number of names.
// Shares roughly follow OSV's own archives (Debian the largest).
var ecoSpecs = []ecoSpec{
	{"Debian", 0.36, 6000, 1.07},
	{"npm", 0.22, 15000, 1.10},
	{"PyPI", 0.14, 6000, 1.10},
	{"Go", 0.10, 3500, 1.10},
	{"Maven", 0.18, 5000, 1.10},
}

// Archives are the archive names the corpus writes, in order.
func Archives() []string {
	out := make([]string, len(ecoSpecs))
	for i, s := range ecoSpecs {
		out[i] = s.archive
	}
	return out
}

// pkgInfo is one package of the synthetic universe.
type pkgInfo struct {
	name     string
	versions []string // ascending, in the ecosystem's order
	// Debian only: the installed version per release and the binaries.
	deb11, deb12 string
	binaries     []string
	records      int // synthetic records naming it (0 for most of the tail)
}

// universe is every synthetic package name of every ecosystem, with how
// many records each gets. It is cheap to build (no records), so the SBOM
// of a benchmark can be made without the archives.
type universe struct {
	eco map[string][]*pkgInfo
}

func rngFor(seed uint64, stream string) *rand.Rand {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(stream); i++ {
		h ^= uint64(stream[i])
		h *= 1099511628211
	}
	return rand.New(rand.NewPCG(seed, h))
}

func buildUniverse(opt Options) *universe {
	u := &universe{eco: map[string][]*pkgInfo{}}
	reserved := map[string]bool{}
	for _, p := range opt.Debian {
		reserved[p.Name] = true
	}
	for _, spec := range ecoSpecs {
		r := rngFor(opt.Seed, "names/"+spec.archive)
		seen := map[string]bool{}
		pkgs := make([]*pkgInfo, 0, spec.packages)
		for len(pkgs) < spec.packages {
			var p *pkgInfo
			switch spec.archive {
			case "Debian":
				p = debianPackage(r, len(pkgs))
				if reserved[p.name] {
					if len(pkgs) > 0 {
						continue
					}
					p.name += "-synthetic"
				}
			case "npm":
				p = &pkgInfo{name: npmName(r), versions: semverVersions(r, true)}
			case "PyPI":
				p = &pkgInfo{name: pypiName(r), versions: pypiVersions(r)}
			case "Go":
				name := goName(r)
				if len(pkgs) == 0 {
					name = "stdlib"
				}
				p = &pkgInfo{name: name, versions: semverVersions(r, false)}
			case "Maven":
				p = &pkgInfo{name: mavenName(r), versions: mavenVersions(r)}
			}
			key := p.name
			if spec.archive == "PyPI" {
				key = normalizePyPI(key)
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			pkgs = append(pkgs, p)
		}
		// Records over names: Zipf, rank 0 the most. A separate stream, so
		// the counts do not depend on how records are written.
		n := int(math.Round(float64(opt.Records) * spec.share))
		zr := rngFor(opt.Seed, "zipf/"+spec.archive)
		z := rand.NewZipf(zr, spec.zipfS, 1, uint64(len(pkgs)-1))
		for range n {
			pkgs[z.Uint64()].records++
		}
		u.eco[spec.archive] = pkgs
	}
	return u
}

// ---------------------------------------------------------------- names ---

var syllables = strings.Fields(`ba be bi bo bu da de di do du fa fe fi fo ga ge go gu ka ke ki ko ku
la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti
to tu va ve vi vo za ze zo xel zar qui lon mar tor vex ply sync http json yaml xml auth log core
net web db sql img pdf zip tar ssl rpc api cli kit lib util`)

func word(r *rand.Rand, min, max int) string {
	n := min + r.IntN(max-min+1)
	var b strings.Builder
	for range n {
		b.WriteString(syllables[r.IntN(len(syllables))])
	}
	return b.String()
}

func npmName(r *rand.Rand) string {
	name := word(r, 2, 3)
	if r.IntN(3) == 0 {
		name += "-" + word(r, 1, 2)
	}
	if r.IntN(6) == 0 {
		return "@" + word(r, 1, 2) + "/" + name
	}
	return name
}

func pypiName(r *rand.Rand) string {
	name := word(r, 2, 3)
	switch r.IntN(8) {
	case 0:
		name = strings.ToUpper(name[:1]) + name[1:] // "Flask"-like
	case 1:
		name += "_" + word(r, 1, 2)
	case 2:
		name += "-" + word(r, 1, 2)
	case 3:
		name = "py" + name
	}
	return name
}

func goName(r *rand.Rand) string {
	switch r.IntN(10) {
	case 0:
		return "golang.org/x/" + word(r, 1, 2)
	case 1:
		return "gopkg.in/" + word(r, 1, 2) + ".v" + fmt.Sprint(1+r.IntN(3))
	case 2:
		return word(r, 1, 2) + ".io/" + word(r, 1, 2) + "/v" + fmt.Sprint(2+r.IntN(3))
	}
	return "github.com/" + word(r, 1, 3) + "/" + word(r, 1, 3)
}

func mavenName(r *rand.Rand) string {
	group := []string{"org", "com", "io", "net"}[r.IntN(4)] + "." + word(r, 1, 2)
	if r.IntN(2) == 0 {
		group += "." + word(r, 1, 2)
	}
	return group + ":" + word(r, 1, 2) + "-" + word(r, 1, 2)
}

// normalizePyPI is PEP 503's normalization.
func normalizePyPI(name string) string {
	var b strings.Builder
	sep := false
	for _, c := range strings.ToLower(name) {
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(c)
	}
	return b.String()
}

// ------------------------------------------------------------- versions ---

// semverVersions is a release history: a few majors, minors and patches,
// ascending, with an occasional prerelease (npm) before a major.
func semverVersions(r *rand.Rand, prerelease bool) []string {
	var out []string
	majors := 1 + r.IntN(4)
	start := r.IntN(2)
	for mj := start; mj < start+majors; mj++ {
		if prerelease && mj > 0 && r.IntN(3) == 0 {
			out = append(out, fmt.Sprintf("%d.0.0-beta.%d", mj, 1+r.IntN(3)))
		}
		minors := 1 + r.IntN(8)
		for mn := range minors {
			patches := 1 + r.IntN(6)
			for pt := range patches {
				out = append(out, fmt.Sprintf("%d.%d.%d", mj, mn, pt))
			}
		}
	}
	return out
}

func pypiVersions(r *rand.Rand) []string {
	var out []string
	majors := 1 + r.IntN(3)
	for mj := 0; mj < majors; mj++ {
		if mj > 0 && r.IntN(3) == 0 {
			out = append(out, fmt.Sprintf("%d.0rc1", mj))
		}
		minors := 1 + r.IntN(10)
		for mn := range minors {
			if r.IntN(3) == 0 {
				out = append(out, fmt.Sprintf("%d.%d", mj, mn))
				if r.IntN(4) == 0 {
					out = append(out, fmt.Sprintf("%d.%d.post1", mj, mn))
				}
				continue
			}
			for pt := range 1 + r.IntN(5) {
				out = append(out, fmt.Sprintf("%d.%d.%d", mj, mn, pt))
			}
		}
	}
	return out
}

func mavenVersions(r *rand.Rand) []string {
	var out []string
	style := r.IntN(4)
	for mj := 1; mj <= 1+r.IntN(4); mj++ {
		if r.IntN(4) == 0 {
			out = append(out, fmt.Sprintf("%d.0.0-M1", mj))
		}
		for mn := range 1 + r.IntN(7) {
			for pt := range 1 + r.IntN(5) {
				v := fmt.Sprintf("%d.%d.%d", mj, mn, pt)
				switch style {
				case 0:
					v += ".Final"
				case 1:
					v = fmt.Sprintf("%d.%d", mj, mn*10+pt)
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// debianPackage is a source package with its Debian 11 and 12 versions
// (the 12 one sometimes a stable update "+deb12uN", sometimes with an
// epoch or a "~") and the binaries built from it.
func debianPackage(r *rand.Rand, rank int) *pkgInfo {
	var name string
	switch r.IntN(6) {
	case 0:
		name = "lib" + word(r, 1, 2)
	case 1:
		name = "python-" + word(r, 1, 2)
	case 2:
		name = word(r, 1, 2) + "-" + word(r, 1, 2)
	default:
		name = word(r, 2, 3)
	}
	if rank == 0 {
		name = "linux" // the package with thousands of records, as in real life
	}
	epoch := ""
	if r.IntN(10) == 0 {
		epoch = fmt.Sprintf("%d:", 1+r.IntN(2))
	}
	upstream := fmt.Sprintf("%d.%d", r.IntN(10), r.IntN(30))
	if r.IntN(2) == 0 {
		upstream += fmt.Sprintf(".%d", r.IntN(20))
	}
	if r.IntN(12) == 0 {
		upstream += "~rc" + fmt.Sprint(1+r.IntN(3))
	}
	rev := 1 + r.IntN(6)
	v12 := fmt.Sprintf("%s%s-%d", epoch, upstream, rev)
	if u := r.IntN(5); u > 0 && r.IntN(2) == 0 {
		v12 += fmt.Sprintf("+deb12u%d", u)
	}
	v11 := fmt.Sprintf("%s%d.%d-%d+deb11u%d", epoch, r.IntN(10), r.IntN(30), 1+r.IntN(4), 1+r.IntN(4))
	bins := []string{name}
	switch r.IntN(4) {
	case 0:
		bins = []string{"lib" + strings.TrimPrefix(name, "lib") + fmt.Sprint(r.IntN(4)), name + "-common"}
	case 1:
		bins = append(bins, name+"-data")
	}
	if rank == 0 {
		bins = []string{"linux-libc-dev"}
	}
	return &pkgInfo{name: name, deb11: v11, deb12: v12, binaries: bins}
}

// -------------------------------------------------------------- the SBOM ---

// Package is one package of a generated SBOM.
type Package struct {
	Name          string
	Version       string
	Type          string // purl type
	PURL          string
	SourceName    string
	SourceVersion string
	// HasRecords says whether the corpus has records naming it.
	HasRecords bool
}

// SBOM is n packages as a cataloged image would have them: about 45% Debian
// binary packages, 30% npm, 11% PyPI, 8% Go, 6% Maven. About a third are
// packages the corpus has records for (the heaviest Debian one, "linux" as
// linux-libc-dev, always among them); the others have none.
func SBOM(opt Options, n int) []Package {
	u := buildUniverse(opt)
	r := rngFor(opt.Seed, "sbom")
	var out []Package
	type part struct {
		archive string
		share   float64
	}
	parts := []part{{"Debian", 0.45}, {"npm", 0.30}, {"PyPI", 0.11}, {"Go", 0.08}, {"Maven", 0.06}}
	seen := map[string]bool{}
	for i, p := range parts {
		want := int(math.Round(float64(n) * p.share))
		if i == len(parts)-1 {
			want = n - len(out)
		}
		pkgs := u.eco[p.archive]
		var with, without []*pkgInfo
		for _, q := range pkgs {
			if q.records > 0 {
				with = append(with, q)
			} else {
				without = append(without, q)
			}
		}
		got := 0
		add := func(q *pkgInfo, has bool) {
			for _, pkg := range sbomPackages(r, p.archive, q, has) {
				if got >= want || seen[pkg.PURL] {
					continue
				}
				seen[pkg.PURL] = true
				out = append(out, pkg)
				got++
			}
		}
		if p.archive == "Debian" {
			add(pkgs[0], true)
		}
		for got < want {
			if r.Float64() < 0.34 && len(with) > 0 {
				add(with[r.IntN(len(with))], true)
			} else {
				add(without[r.IntN(len(without))], false)
			}
		}
	}
	return out
}

func sbomPackages(r *rand.Rand, archive string, q *pkgInfo, has bool) []Package {
	pick := func() string {
		// Often the newest release, else any.
		if r.IntN(3) == 0 {
			return q.versions[len(q.versions)-1]
		}
		return q.versions[r.IntN(len(q.versions))]
	}
	switch archive {
	case "Debian":
		var out []Package
		for _, bin := range q.binaries {
			out = append(out, Package{
				Name: bin, Version: q.deb12, Type: packageurl.TypeDebian,
				PURL:       debPURL(bin, q.deb12, q.name, q.deb12),
				SourceName: q.name, SourceVersion: q.deb12, HasRecords: has,
			})
		}
		return out
	case "npm":
		v := pick()
		ns, name := "", q.name
		if strings.HasPrefix(name, "@") {
			ns, name, _ = strings.Cut(name, "/")
		}
		return []Package{{Name: q.name, Version: v, Type: "npm", PURL: packageurl.NewPackageURL("npm", ns, name, v, nil, "").ToString(), HasRecords: has}}
	case "PyPI":
		v := pick()
		return []Package{{Name: q.name, Version: v, Type: "pypi", PURL: packageurl.NewPackageURL("pypi", "", strings.ToLower(q.name), v, nil, "").ToString(), HasRecords: has}}
	case "Go":
		v := "v" + pick()
		if q.name == "stdlib" {
			v = "go" + strings.TrimPrefix(v, "v")
		}
		ns, name := "", q.name
		if i := strings.LastIndex(q.name, "/"); i > 0 {
			ns, name = q.name[:i], q.name[i+1:]
		}
		return []Package{{Name: q.name, Version: v, Type: "golang", PURL: packageurl.NewPackageURL("golang", ns, name, v, nil, "").ToString(), HasRecords: has}}
	case "Maven":
		v := pick()
		g, a, _ := strings.Cut(q.name, ":")
		return []Package{{Name: q.name, Version: v, Type: "maven", PURL: packageurl.NewPackageURL("maven", g, a, v, nil, "").ToString(), HasRecords: has}}
	}
	return nil
}

func debPURL(bin, version, src, srcVersion string) string {
	q := packageurl.QualifiersFromMap(map[string]string{
		"arch": "amd64", "distro": "debian-12", "upstream": src + "@" + srcVersion,
	})
	sort.Slice(q, func(i, j int) bool { return q[i].Key < q[j].Key })
	return packageurl.NewPackageURL(packageurl.TypeDebian, "debian", bin, version, q, "").ToString()
}
