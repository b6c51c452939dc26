// Package sbomcheck checks, for the tests, the SBOM documents the project
// writes against the official definitions of their formats: CycloneDX 1.6
// against the strict JSON schema the cyclonedx-go module ships, SPDX 2.3
// against the constraints of spdx-spec's schemas/spdx-schema.json that the
// writer touches, and what the SPDX validators check beyond it (license
// ids on the SPDX License List, LicenseRef-s defined, purls well formed).
//
// No Go module ships the SPDX 2.3 JSON schema, and the project commits no
// copy of it; a test run with SECURE_BUILD_SPDX_SCHEMA naming a copy of it
// (https://github.com/spdx/spdx-spec/blob/support/2.3.1/schemas/spdx-schema.json)
// validates against the schema itself as well.
package sbomcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
	"github.com/package-url/packageurl-go"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SPDXSchemaEnv names a copy of the official SPDX 2.3 JSON schema to
// validate against too.
const SPDXSchemaEnv = "SECURE_BUILD_SPDX_SCHEMA"

var cyclonedx struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

// CycloneDX validates doc against the CycloneDX 1.6 JSON schema of the
// cyclonedx-go module in the module cache, which `go list -m` finds. The
// 1.6 schema is the strict one (additionalProperties: false throughout):
// CycloneDX ships no separate strict schema since 1.4.
func CycloneDX(doc []byte) error {
	cyclonedx.once.Do(func() { cyclonedx.schema, cyclonedx.err = compileCycloneDX() })
	if cyclonedx.err != nil {
		return cyclonedx.err
	}
	return validate(cyclonedx.schema, doc, "CycloneDX 1.6")
}

func compileCycloneDX() (*jsonschema.Schema, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return nil, fmt.Errorf("find the cyclonedx-go module for its schema: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	// The schema refers to its companions by these ids.
	for file, id := range map[string]string{
		"bom-1.6.schema.json":   "http://cyclonedx.org/schema/bom-1.6.schema.json",
		"spdx.schema.json":      "http://cyclonedx.org/schema/spdx.schema.json",
		"jsf-0.82.schemax.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	} {
		if err := addResource(c, filepath.Join(dir, file), id); err != nil {
			return nil, err
		}
	}
	return c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
}

func addResource(c *jsonschema.Compiler, path, id string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return fmt.Errorf("read schema %s: %w", path, err)
	}
	return c.AddResource(id, doc)
}

func validate(s *jsonschema.Schema, doc []byte, what string) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("not valid %s: %w", what, err)
	}
	return nil
}

// The values spdx-schema.json (SPDX 2.3) allows where our writer writes.
var (
	// Keys of the objects the schema closes (additionalProperties: false).
	documentKeys     = []string{"$schema", "SPDXID", "annotations", "comment", "creationInfo", "dataLicense", "documentDescribes", "documentNamespace", "externalDocumentRefs", "files", "hasExtractedLicensingInfos", "name", "packages", "relationships", "revieweds", "snippets", "spdxVersion"}
	creationInfoKeys = []string{"comment", "created", "creators", "licenseListVersion"}
	packageKeys      = []string{"SPDXID", "annotations", "attributionTexts", "builtDate", "checksums", "comment", "copyrightText", "description", "downloadLocation", "externalRefs", "filesAnalyzed", "hasFiles", "homepage", "licenseComments", "licenseConcluded", "licenseDeclared", "licenseInfoFromFiles", "name", "originator", "packageFileName", "packageVerificationCode", "primaryPackagePurpose", "releaseDate", "sourceInfo", "summary", "supplier", "validUntilDate", "versionInfo"}
	externalRefKeys  = []string{"comment", "referenceCategory", "referenceLocator", "referenceType"}
	extractedKeys    = []string{"comment", "crossRefs", "extractedText", "licenseId", "name", "seeAlsos"}
	relationshipKeys = []string{"comment", "relatedSpdxElement", "relationshipType", "spdxElementId"}
	annotationKeys   = []string{"annotationDate", "annotationType", "annotator", "comment"}

	purposes           = []string{"OTHER", "INSTALL", "ARCHIVE", "FIRMWARE", "APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "SOURCE", "DEVICE", "OPERATING_SYSTEM", "FILE"}
	referenceCategory  = []string{"OTHER", "PERSISTENT-ID", "PERSISTENT_ID", "SECURITY", "PACKAGE-MANAGER", "PACKAGE_MANAGER"}
	annotationTypes    = []string{"OTHER", "REVIEW"}
	relationshipsUsed  = []string{"DESCRIBES", "CONTAINS"} // of the schema's enum, those the writer writes
	spdxIDPattern      = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	licenseRefPattern  = regexp.MustCompile(`^LicenseRef-[A-Za-z0-9.-]+$`)
	creatorPattern     = regexp.MustCompile(`^(Tool|Organization|Person): .+$`)
	licenseListPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

// SPDX checks doc as an SPDX 2.3 JSON document by the constraints above,
// and what SPDX validators (spdx/tools-java Verify) check beyond the
// schema: license expressions of listed ids and defined LicenseRef-s,
// elements that relationships name, purls that parse. Every package but
// the distribution's and the root's is checked to have a purl; those two
// are too, and the root a versionInfo.
func SPDX(doc []byte) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if path := os.Getenv(SPDXSchemaEnv); path != "" {
		c := jsonschema.NewCompiler()
		if err := addResource(c, path, "spdx"); err != nil {
			return err
		}
		s, err := c.Compile("spdx")
		if err != nil {
			return fmt.Errorf("compile %s: %w", path, err)
		}
		if err := validate(s, doc, "SPDX 2.3 ("+path+")"); err != nil {
			fail("%w", err)
		}
	}

	var d map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	closed(fail, "document", d, documentKeys)
	for key, want := range map[string]string{"SPDXID": "SPDXRef-DOCUMENT", "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0"} {
		if d[key] != want {
			fail("%s is %v, want %s", key, d[key], want)
		}
	}
	if str(d["name"]) == "" {
		fail("document has no name")
	}
	if u, err := url.Parse(str(d["documentNamespace"])); err != nil || !u.IsAbs() || strings.Contains(str(d["documentNamespace"]), "#") {
		fail("documentNamespace %q is not an absolute URI without #", d["documentNamespace"])
	}
	ci, _ := d["creationInfo"].(map[string]any)
	closed(fail, "creationInfo", ci, creationInfoKeys)
	if _, err := time.Parse("2006-01-02T15:04:05Z", str(ci["created"])); err != nil {
		fail("creationInfo.created %q is not YYYY-MM-DDThh:mm:ssZ", ci["created"])
	}
	creators, _ := ci["creators"].([]any)
	if len(creators) == 0 {
		fail("creationInfo has no creators")
	}
	for _, c := range creators {
		if !creatorPattern.MatchString(str(c)) {
			fail("creator %q is not Tool:, Organization: or Person:", c)
		}
	}
	if v, ok := ci["licenseListVersion"]; ok && !licenseListPattern.MatchString(str(v)) {
		fail("licenseListVersion %q is not M.N", v)
	}

	defined := map[string]bool{}
	for i, item := range list(d["hasExtractedLicensingInfos"]) {
		o, _ := item.(map[string]any)
		closed(fail, fmt.Sprintf("hasExtractedLicensingInfos[%d]", i), o, extractedKeys)
		id := str(o["licenseId"])
		if !licenseRefPattern.MatchString(id) || str(o["extractedText"]) == "" {
			fail("hasExtractedLicensingInfos[%d]: licenseId %q, extractedText %q: want a LicenseRef- and its text", i, id, o["extractedText"])
		}
		if defined[id] {
			fail("%s defined twice", id)
		}
		defined[id] = true
	}

	elements := map[string]bool{"SPDXRef-DOCUMENT": true}
	for i, item := range list(d["packages"]) {
		p, _ := item.(map[string]any)
		name := fmt.Sprintf("packages[%d] (%v)", i, p["name"])
		closed(fail, name, p, packageKeys)
		id := str(p["SPDXID"])
		if !spdxIDPattern.MatchString(id) {
			fail("%s: SPDXID %q is not SPDXRef-[A-Za-z0-9.-]+", name, id)
		}
		if elements[id] {
			fail("%s: SPDXID %s used twice", name, id)
		}
		elements[id] = true
		if str(p["name"]) == "" || str(p["downloadLocation"]) == "" {
			fail("%s: want name and downloadLocation", name)
		}
		if purpose, ok := p["primaryPackagePurpose"]; ok && !slices.Contains(purposes, str(purpose)) {
			fail("%s: primaryPackagePurpose %q is none of %v", name, purpose, purposes)
		}
		for _, key := range []string{"licenseDeclared", "licenseConcluded"} {
			if v, ok := p[key]; ok {
				if err := licenseExpression(str(v), defined); err != nil {
					fail("%s: %s: %w", name, key, err)
				}
			}
		}
		purls := 0
		for j, item := range list(p["externalRefs"]) {
			ref, _ := item.(map[string]any)
			closed(fail, fmt.Sprintf("%s.externalRefs[%d]", name, j), ref, externalRefKeys)
			if !slices.Contains(referenceCategory, str(ref["referenceCategory"])) || str(ref["referenceType"]) == "" || str(ref["referenceLocator"]) == "" {
				fail("%s: external reference %v: want a category of %v, a type and a locator", name, ref, referenceCategory)
			}
			if ref["referenceType"] == "purl" {
				purls++
				if _, err := packageurl.FromString(str(ref["referenceLocator"])); err != nil {
					fail("%s: purl %q: %w", name, ref["referenceLocator"], err)
				}
			}
		}
		if purls == 0 {
			fail("%s has no purl", name)
		}
		if str(p["versionInfo"]) == "" && p["primaryPackagePurpose"] != "OPERATING_SYSTEM" {
			fail("%s has no versionInfo", name)
		}
	}

	for i, item := range list(d["relationships"]) {
		r, _ := item.(map[string]any)
		closed(fail, fmt.Sprintf("relationships[%d]", i), r, relationshipKeys)
		if !slices.Contains(relationshipsUsed, str(r["relationshipType"])) {
			fail("relationships[%d]: type %q is none of %v", i, r["relationshipType"], relationshipsUsed)
		}
		for _, end := range []string{"spdxElementId", "relatedSpdxElement"} {
			if !elements[str(r[end])] {
				fail("relationships[%d]: %s %q names no element of the document", i, end, r[end])
			}
		}
	}
	for i, item := range list(d["annotations"]) {
		a, _ := item.(map[string]any)
		closed(fail, fmt.Sprintf("annotations[%d]", i), a, annotationKeys)
		if !slices.Contains(annotationTypes, str(a["annotationType"])) || str(a["annotator"]) == "" || str(a["comment"]) == "" || str(a["annotationDate"]) == "" {
			fail("annotations[%d]: want a date, a type of %v, an annotator and a comment: %v", i, annotationTypes, a)
		}
	}
	return errors.Join(errs...)
}

// closed fails on a key of o that the schema does not allow there.
func closed(fail func(string, ...any), what string, o map[string]any, allowed []string) {
	if o == nil {
		fail("%s: missing or not an object", what)
		return
	}
	for key := range o {
		if !slices.Contains(allowed, key) {
			fail("%s: %q is not a property SPDX 2.3 allows there", what, key)
		}
	}
}

// licenseExpression checks an SPDX license expression as the validators
// do: NONE, NOASSERTION, or ids of the SPDX License List (deprecated ones
// included) and LicenseRef-s the document defines, with listed exceptions.
func licenseExpression(expr string, defined map[string]bool) error {
	if expr == "NONE" || expr == "NOASSERTION" {
		return nil
	}
	tokens := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(expr))
	if len(tokens) == 0 {
		return errors.New("empty license expression")
	}
	for i, t := range tokens {
		switch {
		case t == "AND" || t == "OR" || t == "WITH":
		case i > 0 && tokens[i-1] == "WITH":
			if ok, _ := spdxlicenses.IsException(t); !ok {
				return fmt.Errorf("%q: %s is not an exception of the SPDX License List", expr, t)
			}
		case strings.HasPrefix(t, "LicenseRef-"):
			if !defined[t] {
				return fmt.Errorf("%q: %s is not defined in hasExtractedLicensingInfos", expr, t)
			}
		default:
			id := strings.TrimSuffix(t, "+")
			active, canonical := spdxlicenses.IsActiveLicense(id)
			deprecated, canonicalOld := spdxlicenses.IsDeprecatedLicense(t)
			if !(active && canonical == id) && !(deprecated && canonicalOld == t) {
				return fmt.Errorf("%q: %s is not an id of the SPDX License List %s (in its spelling)", expr, t, spdxlicenses.LicenseListVersion())
			}
		}
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
