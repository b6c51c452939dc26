package baseimage

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// TagKind is what a tag's form says of the image it names.
type TagKind int

const (
	// Other: a name with no order, "latest", "stable", "bookworm".
	Other TagKind = iota
	// Version: numbers, "1.2.3", "v3.12-slim".
	Version
	// Date: a build date, "20240101", "2024-01-01".
	Date
	// Commit: a commit hash, "sha-3f2a1bc", "3f2a1bc9".
	Commit
)

// Tag is a tag read as Renovate's and Dependabot's docker versioning read
// one: a version (an optional "v", dot-separated numbers), a pre-release
// part, and a suffix naming the flavor ("slim", "alpine3.20").
type Tag struct {
	Name string
	Kind TagKind
	// Prefix is "v" when the version is written "v1.2".
	Prefix  string
	Numbers []int
	// Pre is the pre-release part, "rc1" of "2.1-rc1" or "2.1rc1"; such a
	// tag is never offered.
	Pre string
	// Suffix is the flavor after the first "-" (pre-release part apart),
	// "slim" of "3.12-slim"; for a date or commit tag, its form
	// ("YYYYMMDD", "sha-HEX").
	Suffix string
}

var (
	versionTag = regexp.MustCompile(`^(v?)(\d+(?:\.\d+)*)([a-z]+\d*)?(?:-(.+))?$`)
	preRelease = regexp.MustCompile(`^(alpha|beta|rc|pre|preview|dev|snapshot|nightly|canary|a|b)[.]?\d*$`)
	dateTag    = regexp.MustCompile(`^((?:19|20)\d\d)([-.]?)(0[1-9]|1[0-2])([-.]?)(0[1-9]|[12]\d|3[01])((?:[-.T]?\d{2,6})?)$`)
	commitTag  = regexp.MustCompile(`^((?:sha|git|commit|g)-?)?([0-9a-f]{7,64})$`)
)

// ParseTag reads a tag's form.
func ParseTag(tag string) Tag {
	t := Tag{Name: tag}
	if m := dateTag.FindStringSubmatch(tag); m != nil {
		t.Kind = Date
		t.Suffix = "YYYY" + m[2] + "MM" + m[4] + "DD" + strings.Repeat("X", len(m[6]))
		return t
	}
	if m := commitTag.FindStringSubmatch(tag); m != nil && (m[1] != "" || strings.ContainsAny(m[2], "abcdef")) {
		t.Kind = Commit
		t.Suffix = m[1] + "HEX"
		return t
	}
	m := versionTag.FindStringSubmatch(strings.ToLower(tag))
	if m == nil {
		return t
	}
	for _, part := range strings.Split(m[2], ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return Tag{Name: tag} // too many digits: no version
		}
		t.Numbers = append(t.Numbers, n)
	}
	// A lone number of six digits or more is a build number, not a major
	// version.
	if len(t.Numbers) == 1 && len(m[2]) >= 6 {
		return Tag{Name: tag}
	}
	t.Kind, t.Prefix, t.Pre = Version, m[1], m[3]
	suffix := tag[len(tag)-len(m[4]):] // the suffix as written
	if first, rest, _ := strings.Cut(suffix, "-"); t.Pre == "" && preRelease.MatchString(strings.ToLower(first)) {
		t.Pre, suffix = first, rest
	}
	t.Suffix = suffix
	return t
}

// Precision is how many numbers the version has: "3.12" is 2.
func (t Tag) Precision() int { return len(t.Numbers) }

// compareVersion orders two version tags of one precision by their
// numbers; a pre-release comes before its release.
func compareVersion(a, b Tag) int {
	if c := slices.Compare(a.Numbers, b.Numbers); c != 0 {
		return c
	}
	switch {
	case a.Pre == b.Pre:
		return 0
	case a.Pre == "":
		return 1
	case b.Pre == "":
		return -1
	}
	return cmp.Compare(a.Pre, b.Pre)
}

// Bucket is how far an update goes.
type Bucket string

const (
	Patch Bucket = "patch"
	Minor Bucket = "minor"
	Major Bucket = "major"
	// Newer is a later date tag: dates have no patch or minor.
	Newer Bucket = "newer"
)

// buckets are in the order advice lists them: the least disruptive first.
var buckets = []Bucket{Patch, Minor, Major, Newer}

func bucketOf(current, candidate Tag) Bucket {
	if candidate.Kind == Date {
		return Newer
	}
	for i := range current.Numbers {
		if current.Numbers[i] != candidate.Numbers[i] {
			switch i {
			case 0:
				return Major
			case 1:
				return Minor
			}
			return Patch
		}
	}
	return Patch // the release of a pre-release
}

// Candidate is a tag that could replace the current one.
type Candidate struct {
	Tag    string `json:"tag"`
	Bucket Bucket `json:"bucket"`
}

// Selection is what Select made of a tag list: the candidates, each
// bucket's best first, and why each other tag was left out.
type Selection struct {
	Candidates []Candidate
	Rejected   map[string]string
}

// Select chooses, from a repository's tags, those that could replace
// current, as Renovate's and Dependabot's docker versioning do: the same
// "v" prefix, the same suffix (flavor), the same precision, no pre-release,
// no date or commit tag unless current is one of that form, and never a
// downgrade. A commit tag has no order: nothing is selected for one (its
// tag can only be refreshed). Candidates come bucket by bucket (patch,
// minor, major; newer for dates), the highest version first.
func Select(current string, tags []string) Selection {
	cur := ParseTag(current)
	sel := Selection{Rejected: map[string]string{}}
	reject := func(tag, format string, args ...any) { sel.Rejected[tag] = fmt.Sprintf(format, args...) }
	var chosen []Tag
	for _, name := range tags {
		if name == current {
			continue
		}
		t := ParseTag(name)
		switch {
		case cur.Kind == Other:
			reject(name, "%s is not a version: nothing is ordered after it", current)
		case cur.Kind == Commit:
			reject(name, "%s is a commit tag: tags have no order after it", current)
		case t.Kind == Other:
			reject(name, "not a version")
		case t.Kind == Commit:
			reject(name, "a commit tag")
		case t.Kind == Date && cur.Kind != Date:
			reject(name, "a date tag")
		case t.Kind != cur.Kind:
			reject(name, "a version, %s is a date", current)
		case t.Suffix != cur.Suffix && t.Kind == Date:
			reject(name, "a date of another form (%s, not %s)", t.Suffix, cur.Suffix)
		case t.Kind == Date:
			if name <= current {
				reject(name, "not later than %s", current)
				continue
			}
			chosen = append(chosen, t)
		case t.Pre != "":
			reject(name, "a pre-release (%s)", t.Pre)
		case t.Suffix != cur.Suffix:
			reject(name, "another flavor (%q, not %q)", t.Suffix, cur.Suffix)
		case t.Prefix != cur.Prefix:
			reject(name, "another prefix (%q, not %q)", t.Prefix, cur.Prefix)
		case t.Precision() != cur.Precision():
			reject(name, "another precision (%d numbers, not %d)", t.Precision(), cur.Precision())
		case compareVersion(t, cur) <= 0:
			reject(name, "not later than %s", current)
		default:
			chosen = append(chosen, t)
		}
	}
	slices.SortStableFunc(chosen, func(a, b Tag) int {
		ba, bb := bucketOf(cur, a), bucketOf(cur, b)
		if c := cmp.Compare(slices.Index(buckets, ba), slices.Index(buckets, bb)); c != 0 {
			return c
		}
		if a.Kind == Date {
			return cmp.Compare(b.Name, a.Name)
		}
		return cmp.Or(compareVersion(b, a), cmp.Compare(a.Name, b.Name))
	})
	for _, t := range chosen {
		sel.Candidates = append(sel.Candidates, Candidate{Tag: t.Name, Bucket: bucketOf(cur, t)})
	}
	return sel
}

// Flavors chooses, for each other flavor of the repository (a suffix other
// than current's: "slim", "alpine"), the tag closest to current: the same
// numbers, else the highest of the same major version not below current.
// Pre-releases, dates and commits are never offered; a current tag that is
// not a version has no flavors. The result is in suffix order.
func Flavors(current string, tags []string) []string {
	cur := ParseTag(current)
	if cur.Kind != Version {
		return nil
	}
	best := map[string]Tag{}
	for _, name := range tags {
		t := ParseTag(name)
		if t.Kind != Version || t.Pre != "" || t.Suffix == cur.Suffix || t.Prefix != cur.Prefix ||
			t.Precision() != cur.Precision() || t.Numbers[0] != cur.Numbers[0] {
			continue
		}
		same := slices.Equal(t.Numbers, cur.Numbers)
		if !same && compareVersion(t, cur) < 0 {
			continue
		}
		if have, ok := best[t.Suffix]; ok {
			haveSame := slices.Equal(have.Numbers, cur.Numbers)
			if haveSame || (!same && compareVersion(have, t) >= 0) {
				continue
			}
		}
		best[t.Suffix] = t
	}
	var out []string
	for _, suffix := range slices.Sorted(maps.Keys(best)) {
		out = append(out, best[suffix].Name)
	}
	return out
}
