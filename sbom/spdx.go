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
			Created: opts.Created.UTC().Format(time.RFC3339),
		},
	}
	root := &spdx.Package{
		PackageName:             s.Source,
		PackageSPDXIdentifier:   "Root",
		PackageDownloadLocation: noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
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
			PrimaryPackagePurpose:   "OPERATING-SYSTEM",
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
		}
		doc.Packages = append(doc.Packages, os)
		contains(os.PackageSPDXIdentifier)
	}
	licenses := spdxLicenses{}
	for _, p := range s.Packages {
		pkg := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   common.ElementID(SPDXPackageID(p)),
			PackageVersion:          p.Version,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  licenses.expression(p.Licenses),
			PackageCopyrightText:    noAssertion,
			PackageSourceInfo:       "found in: " + strings.Join(p.Locations, ", "),
			PrimaryPackagePurpose:   "LIBRARY",
			PackageExternalReferences: []*spdx.PackageExternalReference{{
				Category: common.CategoryPackageManager,
				RefType:  common.TypePackageManagerPURL,
				Locator:  p.PURL,
			}},
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

// spdxLicenses turns declared licenses into valid SPDX license expressions.
// A declared value that is not an expression ("Apache 2.0", "BSD License")
// becomes a LicenseRef- whose text is the value, listed in the document's
// hasExtractedLicensingInfos as SPDX requires.
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

// isSPDXExpression says whether s is a license expression by the grammar of
// SPDX 2.3 Annex D: license ids (or LicenseRef-s), each with an optional "+"
// and "WITH" an exception id, joined by AND and OR, with parentheses.
func isSPDXExpression(s string) bool {
	p := &expressionParser{tokens: strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s))}
	return p.expression(0) && p.pos == len(p.tokens)
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

func (l *spdxLicenses) expression(declared []string) string {
	var parts []string
	for _, d := range declared {
		// A declared LicenseRef- is not defined in this document: the
		// whole declaration becomes one of ours, which is.
		if isSPDXExpression(d) && !strings.Contains(d, "LicenseRef-") {
			if len(declared) > 1 && strings.Contains(d, " ") {
				d = "(" + d + ")"
			}
			parts = append(parts, d)
			continue
		}
		parts = append(parts, l.ref(d))
	}
	if len(parts) == 0 {
		return noAssertion
	}
	return strings.Join(parts, " AND ")
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
