package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/sbomcheck"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// TestSBOMDocumentsPassTheValidators: every SBOM document the binary writes
// passes the official definition of its format (internal/sbomcheck): the
// SPDX attestation of a build and its --sbom-output, "sbom" as SPDX and as
// CycloneDX, and "scan --format cyclonedx-json" with its vulnerabilities,
// of an image holding a package whose license id (BSD) is not on the SPDX
// License List. The root's purl names the image when its repository is
// known, the build stage otherwise.
func TestSBOMDocumentsPassTheValidators(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, singleStage, map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"), // a fixable critical
		"node_modules/bsdpkg/package.json":   `{"name":"bsdpkg","version":"1.0.0","license":"BSD"}`,
	})
	ref := e.reg.Ref("valid:1")
	sbomOutput := filepath.Join(t.TempDir(), "app.spdx.json")
	r := e.build(t, dir, "-t", ref, "--push", "--fail-on", "none", "--sbom-output", sbomOutput)
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	spdxDocs := map[string][]byte{}
	b, err := os.ReadFile(sbomOutput)
	if err != nil {
		t.Fatalf("--sbom-output: %v", err)
	}
	spdxDocs["--sbom-output"] = b
	for platform, atts := range attested.ReadImage(t, ref).Attestations {
		st, ok := atts["https://spdx.dev/Document"]
		if !ok {
			t.Fatalf("%s: no SPDX attestation", platform)
		}
		spdxDocs["the SPDX attestation of "+platform] = st.Predicate
	}
	cdxDocs := map[string][]byte{}
	for name, args := range map[string][]string{
		"sbom --format spdx-json":      {"sbom", "--format", "spdx-json"},
		"sbom --format cyclonedx-json": {"sbom", "--format", "cyclonedx-json"},
		"scan --format cyclonedx-json": {"scan", "--db", e.db, "--fail-on", "none", "--format", "cyclonedx-json"},
	} {
		r := runCmd(t, nil, binary, append(args, "registry:"+ref)...)
		if r.Code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, r.Code, r.Stderr)
		}
		if strings.HasPrefix(name, "sbom --format spdx") {
			spdxDocs[name] = []byte(r.Stdout)
		} else {
			cdxDocs[name] = []byte(r.Stdout)
		}
	}

	for name, doc := range spdxDocs {
		if err := sbomcheck.SPDX(doc); err != nil {
			t.Errorf("%s is not valid SPDX 2.3:\n%v", name, err)
		}
		root := spdxRootPURL(t, doc)
		want := "pkg:generic/final-stage@sha256:"
		if name == "sbom --format spdx-json" {
			want = "pkg:oci/valid@sha256:"
		}
		if !strings.HasPrefix(root, want) {
			t.Errorf("%s: root purl %q, want %s…", name, root, want)
		}
		if !strings.Contains(string(doc), `"LicenseRef-BSD-`) {
			t.Errorf("%s: the license BSD is not a LicenseRef-", name)
		}
	}
	for name, doc := range cdxDocs {
		if err := sbomcheck.CycloneDX(doc); err != nil {
			t.Errorf("%s is not valid CycloneDX 1.6: %v", name, err)
		}
	}
	if !strings.Contains(string(cdxDocs["scan --format cyclonedx-json"]), fixableCriticalID) {
		t.Errorf("scan --format cyclonedx-json has no vulnerability %s: the schema checked no vulnerabilities", fixableCriticalID)
	}
}

// spdxRootPURL is the purl of the package an SPDX document DESCRIBES.
func spdxRootPURL(t *testing.T, doc []byte) string {
	t.Helper()
	var d struct {
		Packages []struct {
			ID   string `json:"SPDXID"`
			Refs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
		Relationships []struct {
			A    string `json:"spdxElementId"`
			Type string `json:"relationshipType"`
			B    string `json:"relatedSpdxElement"`
		} `json:"relationships"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("SPDX document: %v", err)
	}
	for _, r := range d.Relationships {
		if r.A != "SPDXRef-DOCUMENT" || r.Type != "DESCRIBES" {
			continue
		}
		for _, p := range d.Packages {
			for _, ref := range p.Refs {
				if p.ID == r.B && ref.Type == "purl" {
					return ref.Locator
				}
			}
		}
	}
	return ""
}
