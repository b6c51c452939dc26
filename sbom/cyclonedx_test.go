package sbom

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// TestCycloneDXValid decodes the BOM with cyclonedx-go and checks a
// component per package, with its purl as bom-ref, and the dependency
// graph from the root.
func TestCycloneDXValid(t *testing.T) {
	s := catalogedRoot(t)
	out := encodeCycloneDX(t, s, EncodeOptions{Created: time.Unix(1700000000, 0), ToolVersion: "1.2.3"})

	var raw struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.BOMFormat != "CycloneDX" || raw.SpecVersion != "1.6" {
		t.Errorf("bomFormat %q specVersion %q, want CycloneDX 1.6", raw.BOMFormat, raw.SpecVersion)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 {
		t.Errorf("spec version %v", bom.SpecVersion)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil || bom.Metadata.Component.BOMRef != CycloneDXRootRef || bom.Metadata.Timestamp != "2023-11-14T22:13:20Z" {
		t.Fatalf("metadata %+v", bom.Metadata)
	}
	if bom.Metadata.Tools == nil || bom.Metadata.Tools.Components == nil || (*bom.Metadata.Tools.Components)[0].Version != "1.2.3" {
		t.Errorf("tools %+v", bom.Metadata.Tools)
	}
	if bom.Components == nil {
		t.Fatal("no components")
	}
	refs := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		if c.BOMRef == "" || c.Name == "" {
			t.Errorf("component %+v: want a bom-ref and a name", c)
		}
		if _, dup := refs[c.BOMRef]; dup {
			t.Errorf("bom-ref %s twice", c.BOMRef)
		}
		refs[c.BOMRef] = c
	}
	for _, p := range s.Packages {
		c, ok := refs[p.PURL]
		if !ok {
			t.Errorf("no component for %s", p.PURL)
			continue
		}
		if c.PackageURL != p.PURL || c.Name != p.Name || c.Version != p.Version || c.Type != cdx.ComponentTypeLibrary {
			t.Errorf("component %+v does not match package %+v", c, p)
		}
		var locations []string
		if c.Properties != nil {
			for _, prop := range *c.Properties {
				if prop.Name == "secure-build:location" {
					locations = append(locations, prop.Value)
				}
			}
		}
		if !slices.Equal(locations, p.Locations) {
			t.Errorf("%s: location properties %q, want %q", p.PURL, locations, p.Locations)
		}
		var licenses []string
		if c.Licenses != nil {
			for _, l := range *c.Licenses {
				licenses = append(licenses, l.License.Name)
			}
		}
		if !slices.Equal(licenses, p.Licenses) {
			t.Errorf("%s: licenses %q, want %q", p.PURL, licenses, p.Licenses)
		}
	}
	os, ok := refs["os:debian-12"]
	if !ok || os.Type != cdx.ComponentTypeOS || os.Name != "debian" || os.Version != "12" {
		t.Errorf("operating system component %+v", os)
	}
	if want := len(s.Packages) + 1; len(refs) != want {
		t.Errorf("%d components, want %d", len(refs), want)
	}
	// The root depends on every component, and on nothing unknown.
	if bom.Dependencies == nil || len(*bom.Dependencies) != 1 {
		t.Fatalf("dependencies %+v", bom.Dependencies)
	}
	dep := (*bom.Dependencies)[0]
	if dep.Ref != CycloneDXRootRef || dep.Dependencies == nil || len(*dep.Dependencies) != len(refs) {
		t.Fatalf("root dependency %+v", dep)
	}
	for _, r := range *dep.Dependencies {
		if _, ok := refs[r]; !ok {
			t.Errorf("dependency on unknown ref %s", r)
		}
	}
	// The source package travels as properties.
	libc := refs["pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc%402.36-9"]
	props := map[string]string{}
	if libc.Properties != nil {
		for _, p := range *libc.Properties {
			props[p.Name] = p.Value
		}
	}
	if props["secure-build:source-package:name"] != "glibc" || props["secure-build:source-package:version"] != "2.36-9" {
		t.Errorf("libc6 properties %v", props)
	}
}

// TestEncodeEmpty: a root with nothing in it still encodes to valid
// documents.
func TestEncodeEmpty(t *testing.T) {
	s := mustCatalog(t, t.TempDir())
	if len(s.Packages) != 0 || s.Distro != nil {
		t.Fatalf("empty root: %+v", s)
	}
	opts := EncodeOptions{Created: time.Unix(0, 0)}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(encodeCycloneDX(t, s, opts)), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Errorf("CycloneDX of an empty root: %v", err)
	}
	doc := s.SPDX(opts)
	if len(doc.Packages) != 1 || len(doc.Relationships) != 1 {
		t.Errorf("SPDX of an empty root: %d packages, %d relationships; want the root and DESCRIBES", len(doc.Packages), len(doc.Relationships))
	}
	encodeSPDX(t, s, opts)
}
