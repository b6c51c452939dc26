package sbomcheck

import (
	"strings"
	"testing"
)

// valid is a minimal SPDX 2.3 document the checks accept.
const valid = `{
  "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "x",
  "documentNamespace": "https://example.com/x-1",
  "creationInfo": {"created": "2023-11-14T22:13:20Z", "creators": ["Tool: t-1"], "licenseListVersion": "3.29"},
  "packages": [
    {"name": "x", "SPDXID": "SPDXRef-Root", "versionInfo": "sha256:aa", "downloadLocation": "NOASSERTION", "primaryPackagePurpose": "CONTAINER",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:generic/x@sha256:aa"}]},
    {"name": "debian", "SPDXID": "SPDXRef-OperatingSystem", "versionInfo": "12", "downloadLocation": "NOASSERTION", "primaryPackagePurpose": "OPERATING_SYSTEM",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:generic/debian@12"}]},
    {"name": "p", "SPDXID": "SPDXRef-p", "versionInfo": "1", "downloadLocation": "NOASSERTION", "licenseDeclared": "(MIT OR GPL-2.0+) AND LicenseRef-BSD-1",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/p@1"}]}
  ],
  "hasExtractedLicensingInfos": [{"licenseId": "LicenseRef-BSD-1", "extractedText": "BSD"}],
  "relationships": [
    {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Root"},
    {"spdxElementId": "SPDXRef-Root", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-p"}
  ]
}`

// TestSPDXFindsWhatValidatorsRefuse: each fault the issue names, and the
// others the checks look for, makes an error that names it.
func TestSPDXFindsWhatValidatorsRefuse(t *testing.T) {
	if err := SPDX([]byte(valid)); err != nil {
		t.Fatalf("the valid document: %v", err)
	}
	for name, c := range map[string]struct{ old, new, want string }{
		"tag-value purpose":    {`"OPERATING_SYSTEM"`, `"OPERATING-SYSTEM"`, `primaryPackagePurpose "OPERATING-SYSTEM"`},
		"root without purl":    {`"externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:generic/x@sha256:aa"}]`, `"externalRefs": []`, "(x) has no purl"},
		"root without version": {`"versionInfo": "sha256:aa", `, ``, "(x) has no versionInfo"},
		"license not listed":   {`AND LicenseRef-BSD-1"`, `AND BSD"`, "BSD is not an id of the SPDX License List"},
		"license misspelt":     {`(MIT OR`, `(mit OR`, "mit is not an id"},
		"undefined ref":        {`"licenseId": "LicenseRef-BSD-1"`, `"licenseId": "LicenseRef-BSD-2"`, "LicenseRef-BSD-1 is not defined"},
		"unknown key":          {`"name": "p",`, `"name": "p", "purl": "x",`, `"purl" is not a property`},
		"dangling relation":    {`"relatedSpdxElement": "SPDXRef-p"`, `"relatedSpdxElement": "SPDXRef-q"`, "names no element"},
		"bad purl":             {`pkg:npm/p@1`, `npm/p@1`, "purl"},
		"bad namespace":        {`https://example.com/x-1`, `x-1#y`, "documentNamespace"},
	} {
		doc := strings.Replace(valid, c.old, c.new, 1)
		if doc == valid {
			t.Fatalf("%s: %q is not in the document", name, c.old)
		}
		if err := SPDX([]byte(doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

func TestCycloneDXRefusesAnUnknownKey(t *testing.T) {
	doc := `{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": [{"type": "library", "name": "p"}]}`
	if err := CycloneDX([]byte(doc)); err != nil {
		t.Fatalf("a minimal BOM: %v", err)
	}
	bad := strings.Replace(doc, `"name": "p"`, `"name": "p", "license": "MIT"`, 1)
	if err := CycloneDX([]byte(bad)); err == nil {
		t.Error("a component with an unknown key passed the CycloneDX 1.6 schema")
	}
}
