package sbom

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
)

// catalogedRoot is a root with OS and language packages, one of them with a
// license that is not an SPDX expression.
func catalogedRoot(t *testing.T) *SBOM {
	t.Helper()
	root := debianRoot(t)
	buildEcosystems(t, root)
	return mustCatalog(t, root)
}

func encodeSPDX(t *testing.T, s *SBOM, opts EncodeOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteSPDX(&buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeCycloneDX(t *testing.T, s *SBOM, opts EncodeOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteCycloneDX(&buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDeterministicOutput: with SOURCE_DATE_EPOCH set, two catalogs of one
// root encode to the same bytes, dated from the epoch.
func TestDeterministicOutput(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	root := debianRoot(t)
	buildEcosystems(t, root)
	encode := func() ([]byte, []byte) {
		s := mustCatalog(t, root)
		created, err := CreatedTime()
		if err != nil {
			t.Fatal(err)
		}
		opts := EncodeOptions{Created: created, ToolVersion: "1.2.3"}
		return encodeSPDX(t, s, opts), encodeCycloneDX(t, s, opts)
	}
	spdx1, cdx1 := encode()
	spdx2, cdx2 := encode()
	if !bytes.Equal(spdx1, spdx2) {
		t.Errorf("two SPDX documents of one root differ:\n%s\n---\n%s", spdx1, spdx2)
	}
	if !bytes.Equal(cdx1, cdx2) {
		t.Errorf("two CycloneDX documents of one root differ:\n%s\n---\n%s", cdx1, cdx2)
	}
	const want = "2023-11-14T22:13:20Z"
	var doc struct {
		CreationInfo      struct{ Created string }
		DocumentNamespace string
	}
	if err := json.Unmarshal(spdx1, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.CreationInfo.Created != want {
		t.Errorf("SPDX created = %q, want %q", doc.CreationInfo.Created, want)
	}
	var bom struct {
		SerialNumber string
		Metadata     struct{ Timestamp string }
	}
	if err := json.Unmarshal(cdx1, &bom); err != nil {
		t.Fatal(err)
	}
	if bom.Metadata.Timestamp != want {
		t.Errorf("CycloneDX timestamp = %q, want %q", bom.Metadata.Timestamp, want)
	}
	if !regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(bom.SerialNumber) {
		t.Errorf("CycloneDX serial number %q is not a version 5 UUID URN", bom.SerialNumber)
	}

	// Another root: another namespace and serial number.
	writeFile(t, root, "srv/node_modules/extra/package.json", `{"name": "extra", "version": "1.0.0"}`)
	spdx3, cdx3 := encode()
	var doc3 struct{ DocumentNamespace string }
	var bom3 struct{ SerialNumber string }
	json.Unmarshal(spdx3, &doc3)
	json.Unmarshal(cdx3, &bom3)
	if doc3.DocumentNamespace == doc.DocumentNamespace || bom3.SerialNumber == bom.SerialNumber {
		t.Errorf("a different root kept namespace %q and serial %q", doc3.DocumentNamespace, bom3.SerialNumber)
	}
}

func TestCreatedTime(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "0")
	if got, err := CreatedTime(); err != nil || !got.Equal(time.Unix(0, 0)) {
		t.Errorf("SOURCE_DATE_EPOCH=0: %v, %v", got, err)
	}
	for _, bad := range []string{"yesterday", "-1", "1.5", "1e9", " 1", "99999999999999999999"} {
		t.Setenv("SOURCE_DATE_EPOCH", bad)
		if _, err := CreatedTime(); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("SOURCE_DATE_EPOCH=%q: %v, want an error naming the variable", bad, err)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	before := time.Now().Add(-time.Minute)
	if got, err := CreatedTime(); err != nil || got.Before(before) {
		t.Errorf("SOURCE_DATE_EPOCH unset: %v, %v; want now", got, err)
	}
}

// TestSPDXValid reads the document back with the SPDX tools and checks what
// the issue asks of every package.
func TestSPDXValid(t *testing.T) {
	s := catalogedRoot(t)
	out := encodeSPDX(t, s, EncodeOptions{Created: time.Unix(1700000000, 0), ToolVersion: "1.2.3"})
	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("spdx json Read: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXIdentifier != "DOCUMENT" {
		t.Errorf("document header: %q %q %q", doc.SPDXVersion, doc.DataLicense, doc.SPDXIdentifier)
	}
	if !strings.HasPrefix(doc.DocumentNamespace, "https://") || doc.DocumentName == "" {
		t.Errorf("namespace %q, name %q", doc.DocumentNamespace, doc.DocumentName)
	}
	if doc.CreationInfo == nil || doc.CreationInfo.Created != "2023-11-14T22:13:20Z" || len(doc.CreationInfo.Creators) == 0 {
		t.Errorf("creation info %+v", doc.CreationInfo)
	}

	type rel struct{ a, kind, b string }
	rels := map[rel]bool{}
	for _, r := range doc.Relationships {
		rels[rel{string(r.RefA.ElementRefID), r.Relationship, string(r.RefB.ElementRefID)}] = true
	}
	if !rels[rel{"DOCUMENT", common.TypeRelationshipDescribe, "Root"}] {
		t.Errorf("no DOCUMENT DESCRIBES Root relationship")
	}

	ids := map[common.ElementID]bool{}
	purlsSeen := map[string]bool{}
	for _, p := range doc.Packages {
		if p.PackageSPDXIdentifier == "" || p.PackageName == "" || p.PackageDownloadLocation == "" {
			t.Errorf("package %+v: want SPDXID, name and downloadLocation", p)
		}
		if ids[p.PackageSPDXIdentifier] {
			t.Errorf("SPDXID %s used twice", p.PackageSPDXIdentifier)
		}
		ids[p.PackageSPDXIdentifier] = true
		if p.PackageSPDXIdentifier == "Root" {
			continue
		}
		if !rels[rel{"Root", common.TypeRelationshipContains, string(p.PackageSPDXIdentifier)}] {
			t.Errorf("no Root CONTAINS %s relationship", p.PackageSPDXIdentifier)
		}
		if p.PackageSPDXIdentifier == "OperatingSystem" {
			if p.PackageName != "debian" || p.PackageVersion != "12" {
				t.Errorf("operating system package %q %q, want debian 12", p.PackageName, p.PackageVersion)
			}
			continue
		}
		if p.PackageVersion == "" {
			t.Errorf("package %s has no versionInfo", p.PackageName)
		}
		var purl string
		for _, ref := range p.PackageExternalReferences {
			if ref.Category == common.CategoryPackageManager && ref.RefType == common.TypePackageManagerPURL {
				purl = ref.Locator
			}
		}
		if purl == "" {
			t.Errorf("package %s has no purl external reference", p.PackageName)
		}
		purlsSeen[purl] = true
		if !isSPDXExpression(p.PackageLicenseDeclared) && p.PackageLicenseDeclared != noAssertion {
			t.Errorf("package %s: licenseDeclared %q is not an SPDX expression", p.PackageName, p.PackageLicenseDeclared)
		}
	}
	for _, p := range s.Packages {
		if !purlsSeen[p.PURL] {
			t.Errorf("cataloged package %s is not in the SPDX document", p.PURL)
		}
	}
	if want := len(s.Packages) + 2; len(doc.Packages) != want {
		t.Errorf("%d SPDX packages, want %d (root, OS, packages)", len(doc.Packages), want)
	}

	// The raw JSON uses the field names the spec gives.
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo", "packages", "relationships", "hasExtractedLicensingInfos"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("SPDX JSON has no %q", key)
		}
	}
	if !bytes.Contains(out, []byte(`"referenceType": "purl"`)) || !bytes.Contains(out, []byte(`"referenceCategory": "PACKAGE-MANAGER"`)) {
		t.Error("SPDX JSON has no purl external reference in the spec's spelling")
	}
}

// TestSPDXLicenseRefs: a declared license that is not an SPDX expression
// becomes a LicenseRef- with its text in hasExtractedLicensingInfos; every
// LicenseRef- used is listed, and only those.
func TestSPDXLicenseRefs(t *testing.T) {
	s := catalogedRoot(t)
	doc := s.SPDX(EncodeOptions{Created: time.Unix(0, 0)})
	declared := map[string]string{}
	for _, p := range doc.Packages {
		declared[p.PackageName] = p.PackageLicenseDeclared
	}
	if got := declared["lodash"]; got != "MIT" {
		t.Errorf("lodash licenseDeclared %q, want MIT", got)
	}
	if got := declared["packaging"]; got != "Apache-2.0 OR BSD-2-Clause" {
		t.Errorf("packaging licenseDeclared %q", got)
	}
	if got := declared["libc6"]; got != noAssertion {
		t.Errorf("libc6 licenseDeclared %q, want NOASSERTION", got)
	}
	texts := map[string]string{}
	for _, o := range doc.OtherLicenses {
		if !strings.HasPrefix(o.LicenseIdentifier, "LicenseRef-") || o.ExtractedText == "" {
			t.Errorf("extracted license %+v: want a LicenseRef- id and its text", o)
		}
		if _, dup := texts[o.LicenseIdentifier]; dup {
			t.Errorf("%s listed twice", o.LicenseIdentifier)
		}
		texts[o.LicenseIdentifier] = o.ExtractedText
	}
	ref := declared["requests"]
	if !strings.HasPrefix(ref, "LicenseRef-") || texts[ref] != "Apache 2.0" {
		t.Errorf("requests licenseDeclared %q (text %q): want a LicenseRef- of \"Apache 2.0\"", ref, texts[ref])
	}
	// Two license ids, neither on the SPDX License List: each its own
	// LicenseRef-, whose text is the id.
	if got, want := declared["json-schema"], refOf(texts, "AFLv2.1")+" AND "+refOf(texts, "BSD"); got != want || strings.Count(got, "LicenseRef-") != 2 {
		t.Errorf("json-schema licenseDeclared %q, want %q", got, want)
	}
	used := map[string]bool{}
	for _, d := range declared {
		for _, tok := range strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(d)) {
			if strings.HasPrefix(tok, "LicenseRef-") {
				used[tok] = true
				if _, ok := texts[tok]; !ok {
					t.Errorf("%s is used but not in hasExtractedLicensingInfos", tok)
				}
			}
		}
	}
	for id := range texts {
		if !used[id] {
			t.Errorf("%s is listed but not used", id)
		}
	}
}

// refOf is the LicenseRef- whose extracted text is text, "" when none is.
func refOf(texts map[string]string, text string) string {
	for id, t := range texts {
		if t == text {
			return id
		}
	}
	return ""
}

// TestSPDXLicenseExpression: ids on the SPDX License List stay, in the
// list's spelling; any other id becomes a LicenseRef- of its own, a text
// that is no expression one LicenseRef- of the whole.
func TestSPDXLicenseExpression(t *testing.T) {
	tests := []struct {
		declared []string
		// "REF" stands for the LicenseRef- of the whole text, {X} for the
		// LicenseRef- of the id X.
		want string
	}{
		{nil, noAssertion},
		{[]string{"MIT"}, "MIT"},
		{[]string{"MIT", "Apache-2.0"}, "MIT AND Apache-2.0"},
		{[]string{"MIT OR Apache-2.0", "BSD-3-Clause"}, "(MIT OR Apache-2.0) AND BSD-3-Clause"},
		{[]string{"GPL-2.0-only WITH Classpath-exception-2.0"}, "GPL-2.0-only WITH Classpath-exception-2.0"},
		{[]string{"GPL-2.0+"}, "GPL-2.0+"},
		{[]string{"(MIT OR Apache-2.0)"}, "(MIT OR Apache-2.0)"},
		// A LicenseRef- must be defined in the document: ours is.
		{[]string{"LicenseRef-Proprietary"}, "REF"},
		{[]string{"MIT OR LicenseRef-x"}, "MIT OR {LicenseRef-x}"},
		// Ids that are not on the SPDX License List.
		{[]string{"BSD"}, "REF"},
		{[]string{"GPL-2.0-only OR BSD"}, "GPL-2.0-only OR {BSD}"},
		{[]string{"(GPL-2+ AND Artistic) OR MIT"}, "({GPL-2+} AND {Artistic}) OR MIT"},
		{[]string{"MIT", "BSD"}, "MIT AND {BSD}"},
		// The list's spelling, deprecated ids and "+" kept.
		{[]string{"mit"}, "MIT"},
		{[]string{"bsd-3-clause OR apache-2.0"}, "BSD-3-Clause OR Apache-2.0"},
		{[]string{"LGPL-2.1+"}, "LGPL-2.1+"},
		{[]string{"gpl-2.0-only with classpath-exception-2.0"}, "REF"}, // "with" is no operator
		{[]string{"GPL-2.0-only WITH classpath-exception-2.0"}, "GPL-2.0-only WITH Classpath-exception-2.0"},
		// An exception not on the list has no reference in SPDX 2.3.
		{[]string{"GPL-2.0-only WITH Foo-exception"}, "REF"},
		{[]string{"Apache 2.0"}, "REF"},
		{[]string{"MIT License"}, "REF"},
		{[]string{"MIT AND"}, "REF"},
		{[]string{"(MIT"}, "REF"},
		{[]string{")MIT("}, "REF"},
		{[]string{"(MIT AND) Apache-2.0"}, "REF"},
		{[]string{"MIT WITH X WITH Y"}, "REF"},
		{[]string{"(MIT) WITH X"}, "REF"},
		{[]string{"M+IT"}, "REF"},
		{[]string{"mit and apache-2.0"}, "REF"},
		{[]string{"DocumentRef-x:LicenseRef-y"}, "REF"},
		{[]string{strings.Repeat("(", 100) + "MIT" + strings.Repeat(")", 100)}, "REF"},
		{[]string{strings.Repeat("(", 10) + "MIT" + strings.Repeat(")", 10)}, strings.Repeat("(", 10) + "MIT" + strings.Repeat(")", 10)},
	}
	for _, tt := range tests {
		var l spdxLicenses
		got := l.expression(tt.declared)
		texts := map[string]string{}
		for _, o := range l.others {
			texts[o.LicenseIdentifier] = o.ExtractedText
		}
		if tt.want == "REF" {
			if len(l.others) != 1 || got != l.others[0].LicenseIdentifier || l.others[0].ExtractedText != tt.declared[0] {
				t.Errorf("expression(%q) = %q with %d extracted licenses; want one LicenseRef- of the text", tt.declared, got, len(l.others))
			}
		} else {
			want := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllStringFunc(tt.want, func(m string) string { return refOf(texts, m[1:len(m)-1]) })
			if got != want || len(l.others) != strings.Count(tt.want, "{") {
				t.Errorf("expression(%q) = %q with %d extracted licenses; want %q", tt.declared, got, len(l.others), tt.want)
			}
		}
		for _, tok := range strings.Fields(strings.NewReplacer("(", " ", ")", " ", "+", " ").Replace(got)) {
			if listed, _ := listedLicense(tok); tok != listed && !spdxOperators[tok] && !strings.HasPrefix(tok, "LicenseRef-") && tok != noAssertion {
				if ok, _ := spdxlicenses.IsException(tok); !ok {
					t.Errorf("expression(%q) = %q: %s is neither on the SPDX License List nor a LicenseRef-", tt.declared, got, tok)
				}
			}
		}
		if got != noAssertion && !validSPDXExpression(got) {
			t.Errorf("expression(%q) = %q: not a valid SPDX license expression", tt.declared, got)
		}
	}
	// One text, one LicenseRef-, however often it is used.
	var l spdxLicenses
	a, b := l.expression([]string{"BSD License"}), l.expression([]string{"BSD License", "MIT"})
	if len(l.others) != 1 || b != a+" AND MIT" {
		t.Errorf("a text used twice: %q, %q, %d extracted licenses", a, b, len(l.others))
	}
}

var spdxIDString = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

// validSPDXExpression checks s against the grammar of SPDX 2.3 Annex D,
// independently of the code under test:
//
//	expression = term *( ("AND" / "OR") term )
//	term       = "(" expression ")" / simple [ "WITH" idstring ]
//	simple     = idstring ["+"] / ["DocumentRef-" idstring ":"] "LicenseRef-" idstring
func validSPDXExpression(s string) bool {
	tokens := strings.Fields(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s))
	idstring := spdxIDString
	isOperator := func(t string) bool { return t == "AND" || t == "OR" || t == "WITH" }
	simple := func(t string) bool {
		if isOperator(t) {
			return false
		}
		if doc, ref, ok := strings.Cut(t, ":"); ok {
			return strings.HasPrefix(doc, "DocumentRef-") && idstring.MatchString(strings.TrimPrefix(doc, "DocumentRef-")) &&
				strings.HasPrefix(ref, "LicenseRef-") && idstring.MatchString(strings.TrimPrefix(ref, "LicenseRef-"))
		}
		return idstring.MatchString(strings.TrimSuffix(t, "+"))
	}
	pos := 0
	var expression func() bool
	term := func() bool {
		if pos >= len(tokens) {
			return false
		}
		if tokens[pos] == "(" {
			pos++
			if !expression() || pos >= len(tokens) || tokens[pos] != ")" {
				return false
			}
			pos++
			return true
		}
		if !simple(tokens[pos]) {
			return false
		}
		pos++
		if pos < len(tokens) && tokens[pos] == "WITH" {
			pos++
			if pos >= len(tokens) || isOperator(tokens[pos]) || !idstring.MatchString(tokens[pos]) {
				return false
			}
			pos++
		}
		return true
	}
	expression = func() bool {
		if !term() {
			return false
		}
		for pos < len(tokens) && (tokens[pos] == "AND" || tokens[pos] == "OR") {
			pos++
			if !term() {
				return false
			}
		}
		return true
	}
	return expression() && pos == len(tokens)
}

// FuzzSPDXLicenseExpression: whatever packages declare, the SPDX document
// gets a valid license expression or NOASSERTION, and every LicenseRef- in
// it is listed with its text.
func FuzzSPDXLicenseExpression(f *testing.F) {
	f.Add("MIT", "Apache 2.0")
	f.Fuzz(func(t *testing.T, a, b string) {
		var l spdxLicenses
		got := l.expression([]string{a, b})
		if got == noAssertion {
			return
		}
		if !isSPDXExpression(got) || !validSPDXExpression(got) {
			t.Fatalf("expression(%q, %q) = %q: not a valid SPDX license expression", a, b, got)
		}
		listed := map[string]bool{}
		for _, o := range l.others {
			listed[o.LicenseIdentifier] = true
			tokens := append(strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(a)), strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(b))...)
			if !slices.Contains([]string{a, b}, o.ExtractedText) && !slices.Contains(tokens, o.ExtractedText) {
				t.Fatalf("extracted text %q is neither a declared license nor an id of one", o.ExtractedText)
			}
		}
		for _, tok := range strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(got)) {
			if strings.HasPrefix(tok, "LicenseRef-") && !listed[tok] {
				t.Fatalf("%s used in %q but not listed", tok, got)
			}
		}
	})
}

// FuzzIsSPDXExpression: what isSPDXExpression accepts, the grammar does.
func FuzzIsSPDXExpression(f *testing.F) {
	f.Add("MIT OR (Apache-2.0 AND BSD-3-Clause)")
	f.Fuzz(func(t *testing.T, s string) {
		if isSPDXExpression(s) && !validSPDXExpression(s) {
			t.Fatalf("isSPDXExpression accepts %q, which the SPDX grammar does not", s)
		}
	})
}
