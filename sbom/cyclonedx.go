package sbom

import (
	"fmt"
	"io"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Component property names, namespaced as CycloneDX asks of tool-specific
// properties.
const (
	propLocation      = "secure-build:location"
	propSourceName    = "secure-build:source-package:name"
	propSourceVersion = "secure-build:source-package:version"
	propDistro        = "secure-build:distro"
)

// CycloneDXRootRef is the bom-ref of the component that stands for what was
// scanned.
const CycloneDXRootRef = "root"

// CycloneDX returns the catalog as a CycloneDX 1.6 BOM: one component per
// package, its bom-ref the purl, its locations as properties.
func (s *SBOM) CycloneDX(opts EncodeOptions) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	// A name-based UUID (version 5 layout) from the content, so the same
	// root gives the same serial number.
	h := []byte(s.contentHash())
	h[12], h[16] = '5', "89ab"[h[16]%4]
	bom.SerialNumber = fmt.Sprintf("urn:uuid:%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
	root := cdx.Component{
		BOMRef: CycloneDXRootRef, Type: cdx.ComponentTypeContainer, Name: s.Source,
		Version: s.RootVersion(), PackageURL: s.RootPURL(),
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: opts.Created.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "secure-build", Version: opts.ToolVersion,
		}}},
		Component: &root,
	}
	components := make([]cdx.Component, 0, len(s.Packages)+1)
	refs := make([]string, 0, len(s.Packages)+1)
	if d := s.Distro; d != nil {
		ref := "os:" + d.PURLQualifier()
		components = append(components, cdx.Component{
			BOMRef: ref, Type: cdx.ComponentTypeOS, Name: d.ID, Version: firstNonEmpty(d.VersionID, d.VersionCodename), Description: d.PrettyName,
			PackageURL: d.OSPURL(),
		})
		refs = append(refs, ref)
	}
	for _, p := range s.Packages {
		c := cdx.Component{
			BOMRef:     p.PURL,
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    p.Version,
			PackageURL: p.PURL,
		}
		if len(p.Licenses) > 0 {
			licenses := make(cdx.Licenses, 0, len(p.Licenses))
			for _, l := range p.Licenses {
				licenses = append(licenses, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
			c.Licenses = &licenses
		}
		var props []cdx.Property
		for _, l := range p.Locations {
			props = append(props, cdx.Property{Name: propLocation, Value: l})
		}
		if p.SourceName != "" {
			props = append(props, cdx.Property{Name: propSourceName, Value: p.SourceName})
			props = append(props, cdx.Property{Name: propSourceVersion, Value: p.SourceVersion})
		}
		if len(props) > 0 {
			c.Properties = &props
		}
		components = append(components, c)
		refs = append(refs, p.PURL)
	}
	bom.Components = &components
	bom.Dependencies = &[]cdx.Dependency{{Ref: CycloneDXRootRef, Dependencies: &refs}}
	if s.Distro != nil {
		bom.Metadata.Properties = &[]cdx.Property{{Name: propDistro, Value: s.Distro.PURLQualifier()}}
	}
	return bom
}

// WriteCycloneDX writes the catalog as CycloneDX 1.6 JSON.
func (s *SBOM) WriteCycloneDX(w io.Writer, opts EncodeOptions) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(s.CycloneDX(opts), cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("write cyclonedx: %w", err)
	}
	return nil
}
