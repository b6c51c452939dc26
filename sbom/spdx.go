package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// EncodeOptions are the facts of a document that are not in the catalog.
type EncodeOptions struct {
	// Created is the document's creation time; see CreatedTime.
	Created time.Time
	// ToolVersion is secure-build's version, named as the document's creator.
	ToolVersion string
}

// CreatedTime is SOURCE_DATE_EPOCH when it is set, so that the same input
// gives byte-identical documents, else now.
func CreatedTime() (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a whole number of seconds since 1970", v)
	}
	return time.Unix(secs, 0).UTC(), nil
}

const noAssertion = "NOASSERTION"

// SPDXPackageID is the SPDXID of a package in the SPDX document: stable for a
// purl, so that two documents of one root agree.
func SPDXPackageID(p Package) string {
	return "Package-" + p.Type + "-" + spdxIDChars.ReplaceAllString(p.Name, "-") + "-" + shortHash(p.PURL)
}

var spdxIDChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// contentHash identifies a catalog by what it holds: the document namespace
// and the CycloneDX serial number derive from it.
func (s *SBOM) contentHash() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("marshal sbom: %v", err)) // plain strings and slices always marshal
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// SPDX returns the catalog as an SPDX 2.3 document: a root package for what
// was scanned, which DESCRIBES, and which CONTAINS the distribution and every
// package, each with a purl external reference.
func (s *SBOM) SPDX(opts EncodeOptions) *spdx.Document {
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      s.Source,
		DocumentNamespace: "https://secure-build.dev/spdx/" + spdxIDChars.ReplaceAllString(s.Source, "-") + "-" + s.contentHash(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{
				{CreatorType: "Organization", Creator: "secure-build"},
				{CreatorType: "Tool", Creator: "secure-build-" + opts.ToolVersion},
			},
			Created:            opts.Created.UTC().Format(time.RFC3339),
			LicenseListVersion: licenseListVersion(),
		},
	}
	root := &spdx.Package{
		PackageName:               s.Source,
		PackageSPDXIdentifier:     "Root",
		PackageVersion:            s.RootVersion(),
		PackageDownloadLocation:   noAssertion,
		PrimaryPackagePurpose:     "CONTAINER",
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PackageExternalReferences: purlReference(s.RootPURL()),
	}
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA:         common.MakeDocElementID("", "DOCUMENT"),
		RefB:         common.MakeDocElementID("", "Root"),
		Relationship: common.TypeRelationshipDescribe,
	})
	contains := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", "Root"),
			RefB:         common.MakeDocElementID("", string(id)),
			Relationship: common.TypeRelationshipContains,
		})
	}
	if s.Distro != nil {
		os := &spdx.Package{
			PackageName:             s.Distro.ID,
			PackageSPDXIdentifier:   "OperatingSystem",
			PackageVersion:          firstNonEmpty(s.Distro.VersionID, s.Distro.VersionCodename),
			PackageDescription:      s.Distro.PrettyName,
			PackageDownloadLocation: noAssertion,
			// The JSON spelling: the tag-value one, OPERATING-SYSTEM,
			// fails the SPDX 2.3 JSON schema.
			PrimaryPackagePurpose:     purposeOperatingSystem,
			PackageLicenseConcluded:   noAssertion,
			PackageLicenseDeclared:    noAssertion,
			PackageCopyrightText:      noAssertion,
			PackageExternalReferences: purlReference(s.Distro.OSPURL()),
		}
		doc.Packages = append(doc.Packages, os)
		contains(os.PackageSPDXIdentifier)
	}
	licenses := spdxLicenses{}
	for _, p := range s.Packages {
		pkg := &spdx.Package{
			PackageName:               p.Name,
			PackageSPDXIdentifier:     common.ElementID(SPDXPackageID(p)),
			PackageVersion:            p.Version,
			PackageDownloadLocation:   noAssertion,
			PackageLicenseConcluded:   noAssertion,
			PackageLicenseDeclared:    licenses.expression(p.Licenses),
			PackageCopyrightText:      noAssertion,
			PackageSourceInfo:         "found in: " + strings.Join(p.Locations, ", "),
			PrimaryPackagePurpose:     "LIBRARY",
			PackageExternalReferences: purlReference(p.PURL),
		}
		doc.Packages = append(doc.Packages, pkg)
		contains(pkg.PackageSPDXIdentifier)
	}
	doc.OtherLicenses = licenses.others
	// What could not be read travels with the document: a later match of
	// these packages (scan sbom:FILE, verify) is as incomplete as this one.
	for _, gap := range s.Incomplete {
		b, _ := json.Marshal(gap)
		doc.Annotations = append(doc.Annotations, &spdx.Annotation{
			Annotator:                common.Annotator{AnnotatorType: "Tool", Annotator: "secure-build-" + opts.ToolVersion},
			AnnotationDate:           doc.CreationInfo.Created,
			AnnotationType:           "OTHER",
			AnnotationSPDXIdentifier: common.MakeDocElementID("", "DOCUMENT"),
			AnnotationComment:        incompleteAnnotation + string(b),
		})
	}
	return doc
}

// purposeOperatingSystem is the primaryPackagePurpose of the distribution
// in SPDX 2.3 JSON.
const purposeOperatingSystem = "OPERATING_SYSTEM"

func purlReference(purl string) []*spdx.PackageExternalReference {
	return []*spdx.PackageExternalReference{{
		Category: common.CategoryPackageManager,
		RefType:  common.TypePackageManagerPURL,
		Locator:  purl,
	}}
}

// incompleteAnnotation starts the comment of a document annotation that
// names something the catalog could not read, as JSON after it.
const incompleteAnnotation = "secure-build incomplete: "

// WriteSPDX writes the catalog as SPDX 2.3 JSON.
func (s *SBOM) WriteSPDX(w io.Writer, opts EncodeOptions) error {
	if err := spdxjson.Write(s.SPDX(opts), w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("write spdx: %w", err)
	}
	return nil
}

// spdxLicenses turns declared licenses into SPDX license expressions that
// the SPDX validators accept: every license id on the SPDX License List (in
// its canonical case), every other one a LicenseRef- whose text is what was
// declared, listed in the document's hasExtractedLicensingInfos as SPDX
// requires. A declaration that is not an expression ("Apache 2.0") becomes
// one LicenseRef-; in one that is, only the ids not on the list do
// ("GPL-2.0-only OR BSD" keeps GPL-2.0-only).
type spdxLicenses struct {
	others []*spdx.OtherLicense
	seen   map[string]string
}

var (
	spdxLicenseToken = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	spdxOperators    = map[string]bool{"AND": true, "OR": true, "WITH": true}
)

// maxExpressionDepth bounds the nesting of parentheses, so that a hostile
// license string cannot exhaust the stack.
const maxExpressionDepth = 32

// licenseListVersion is the version of the SPDX License List the ids are
// checked against, as creationInfo.licenseListVersion wants it: "3.29".
func licenseListVersion() string {
	v := spdxlicenses.LicenseListVersion()
	if major, rest, ok := strings.Cut(v, "."); ok {
		minor, _, _ := strings.Cut(rest, ".")
		return major + "." + minor
	}
	return v
}

// isSPDXExpression says whether s is a license expression by the grammar of
// SPDX 2.3 Annex D: license ids (or LicenseRef-s), each with an optional "+"
// and "WITH" an exception id, joined by AND and OR, with parentheses.
func isSPDXExpression(s string) bool {
	_, ok := parseExpression(s)
	return ok
}

// parseExpression splits s into its tokens when it is an expression.
func parseExpression(s string) ([]string, bool) {
	p := &expressionParser{tokens: strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s))}
	return p.tokens, p.expression(0) && p.pos == len(p.tokens)
}

type expressionParser struct {
	tokens []string
	pos    int
}

func (p *expressionParser) peek() string {
	if p.pos < len(p.tokens) {
		return p.tokens[p.pos]
	}
	return ""
}

func (p *expressionParser) expression(depth int) bool {
	if !p.term(depth) {
		return false
	}
	for p.peek() == "AND" || p.peek() == "OR" {
		p.pos++
		if !p.term(depth) {
			return false
		}
	}
	return true
}

func (p *expressionParser) term(depth int) bool {
	if p.peek() == "(" {
		p.pos++
		if depth >= maxExpressionDepth || !p.expression(depth+1) || p.peek() != ")" {
			return false
		}
		p.pos++
		return true
	}
	if !isLicenseID(strings.TrimSuffix(p.peek(), "+")) {
		return false
	}
	p.pos++
	if p.peek() == "WITH" {
		p.pos++
		if !isLicenseID(p.peek()) {
			return false
		}
		p.pos++
	}
	return true
}

func isLicenseID(t string) bool {
	return !spdxOperators[t] && spdxLicenseToken.MatchString(t)
}

// listedLicense is id as the SPDX License List spells it, deprecated ids
// ("GPL-2.0+") included: the validators warn of those, they do not refuse
// them.
func listedLicense(id string) (string, bool) {
	if ok, canonical := spdxlicenses.IsActiveLicense(id); ok {
		return canonical, true
	}
	if ok, canonical := spdxlicenses.IsDeprecatedLicense(id); ok {
		return canonical, true
	}
	return "", false
}

func (l *spdxLicenses) expression(declared []string) string {
	var parts []string
	for _, d := range declared {
		e, ok := l.listedExpression(d)
		if !ok {
			parts = append(parts, l.ref(d))
			continue
		}
		if len(declared) > 1 && strings.Contains(e, " ") {
			e = "(" + e + ")"
		}
		parts = append(parts, e)
	}
	if len(parts) == 0 {
		return noAssertion
	}
	return strings.Join(parts, " AND ")
}

// listedExpression rewrites the expression d with the ids of the list, and
// a LicenseRef- of ours for each license id that is not on it (a declared
// LicenseRef- is not defined in this document: it becomes one of ours,
// which is). It fails when d is no expression, or names an exception that
// is not on the list: SPDX 2.3 has no reference for an exception.
func (l *spdxLicenses) listedExpression(d string) (string, bool) {
	tokens, ok := parseExpression(d)
	if !ok {
		return "", false
	}
	out := make([]string, 0, len(tokens))
	for i, t := range tokens {
		switch {
		case t == "(" || t == ")" || t == "AND" || t == "OR" || t == "WITH":
			out = append(out, t)
		case i > 0 && tokens[i-1] == "WITH":
			ok, exception := spdxlicenses.IsException(t)
			if !ok {
				return "", false
			}
			out = append(out, exception)
		default:
			if id, ok := listedLicense(t); ok {
				out = append(out, id)
			} else if id, ok := listedLicense(strings.TrimSuffix(t, "+")); ok && strings.HasSuffix(t, "+") {
				out = append(out, id+"+")
			} else {
				out = append(out, l.ref(t))
			}
		}
	}
	return strings.NewReplacer("( ", "(", " )", ")").Replace(strings.Join(out, " ")), true
}

func (l *spdxLicenses) ref(text string) string {
	if id, ok := l.seen[text]; ok {
		return id
	}
	if l.seen == nil {
		l.seen = map[string]string{}
	}
	id := "LicenseRef-" + strings.Trim(spdxIDChars.ReplaceAllString(text, "-"), "-") + "-" + shortHash(text)[:8]
	l.seen[text] = id
	l.others = append(l.others, &spdx.OtherLicense{LicenseIdentifier: id, ExtractedText: text, LicenseName: text})
	return id
}
