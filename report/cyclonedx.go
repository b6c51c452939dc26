package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// WriteCycloneDX writes the whole SBOM as CycloneDX 1.6 JSON with the
// findings in vulnerabilities[]: one vulnerability per id, affecting, by
// bom-ref, each package it was found in.
func WriteCycloneDX(w io.Writer, s *Scan) error {
	if s.SBOM == nil {
		return errors.New("write cyclonedx: the scan has no SBOM")
	}
	bom := s.SBOM.CycloneDX(sbom.EncodeOptions{Created: s.ScannedAt, ToolVersion: s.ToolVersion})
	addVulnerabilities(bom, s.Findings)
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("write cyclonedx: %w", err)
	}
	return nil
}

// addVulnerabilities folds the findings of each id into one vulnerability.
// Components are keyed by purl, so a finding's package is already there; one
// that is not (a catalog and findings out of step) is added, so that no
// affects[].ref points outside the document. No findings is an empty list,
// not a missing one: the document says it was scanned.
func addVulnerabilities(bom *cdx.BOM, findings []vuln.Finding) {
	refs := map[string]bool{}
	if bom.Components != nil {
		for _, c := range *bom.Components {
			refs[c.BOMRef] = true
		}
	}
	byID := map[string][]vuln.Finding{}
	for _, f := range vuln.Sorted(findings) {
		byID[f.ID] = append(byID[f.ID], f)
		if ref := componentRef(f.Package); !refs[ref] {
			refs[ref] = true
			c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: f.Package.Name, Version: f.Package.Version, PackageURL: f.Package.PURL}
			if bom.Components == nil {
				bom.Components = &[]cdx.Component{}
			}
			*bom.Components = append(*bom.Components, c)
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	vulns := make([]cdx.Vulnerability, 0, len(ids))
	for _, id := range ids {
		vulns = append(vulns, cycloneDXVulnerability(id, byID[id]))
	}
	bom.Vulnerabilities = &vulns
	addOrigins(bom, findings)
}

// The component properties that say where a package came from, in the
// secure-build namespace the SBOM's own properties use: each origin as the
// table shows it, and of those, the base image with its digest and the
// Dockerfile lines, for tools that look one up.
const (
	propOrigin          = "secure-build:origin"
	propOriginBaseImage = "secure-build:origin:base-image"
	propOriginLines     = "secure-build:origin:dockerfile-lines"
)

// addOrigins puts the origins of each finding's package on its component.
func addOrigins(bom *cdx.BOM, findings []vuln.Finding) {
	if bom.Components == nil {
		return
	}
	index := map[string]int{}
	for i, c := range *bom.Components {
		index[c.BOMRef] = i
	}
	for _, f := range findings {
		i, ok := index[componentRef(f.Package)]
		if !ok {
			continue
		}
		c := &(*bom.Components)[i]
		for _, o := range f.Package.Origins {
			props := []cdx.Property{{Name: propOrigin, Value: o.String()}}
			if o.Kind == origin.Base && o.Image != "" {
				props = append(props, cdx.Property{Name: propOriginBaseImage, Value: strings.TrimSuffix(o.Image+"@"+o.Digest, "@")})
			}
			if loc := o.Location(); loc != "" {
				props = append(props, cdx.Property{Name: propOriginLines, Value: loc})
			}
			for _, p := range props {
				if c.Properties == nil {
					c.Properties = &[]cdx.Property{}
				}
				if !slices.Contains(*c.Properties, p) {
					*c.Properties = append(*c.Properties, p)
				}
			}
		}
	}
}

// componentRef is a package's bom-ref: its purl, as sbom names components;
// name@version for a package without one.
func componentRef(p vuln.Package) string {
	return cmp.Or(p.PURL, p.Name+"@"+p.Version)
}

// cycloneDXVulnerability makes one vulnerability of the findings of one id,
// worst first.
func cycloneDXVulnerability(id string, findings []vuln.Finding) cdx.Vulnerability {
	v := cdx.Vulnerability{ID: id, Source: &cdx.Source{Name: "OSV", URL: osvURL(id)}}
	// A rating is made of these three, so equal keys are equal ratings.
	type ratingKey struct {
		severity vuln.Severity
		score    float64
		source   string
	}
	var (
		others, recommend []string
		ratings           []cdx.VulnerabilityRating
		rated             = map[ratingKey]bool{}
		affects           []cdx.Affects
	)
	for _, f := range findings {
		v.Description = cmp.Or(v.Description, f.Summary)
		for _, other := range append(slices.Clone(f.Aliases), f.Upstream...) {
			if other != id && !slices.Contains(others, other) {
				others = append(others, other)
			}
		}
		if k := (ratingKey{f.Severity, f.Score, f.SeveritySource}); !rated[k] {
			rated[k] = true
			ratings = append(ratings, cycloneDXRating(f))
		}
		if f.Fixable() {
			if r := fmt.Sprintf("upgrade %s to %s", f.Package.Name, f.FixedVersion); !slices.Contains(recommend, r) {
				recommend = append(recommend, r)
			}
		}
		ref := componentRef(f.Package)
		if !slices.ContainsFunc(affects, func(a cdx.Affects) bool { return a.Ref == ref }) {
			affects = append(affects, cdx.Affects{Ref: ref, Range: &[]cdx.AffectedVersions{{
				Version: f.Package.Version, Status: cdx.VulnerabilityStatusAffected,
			}}})
		}
	}
	if len(others) > 0 {
		slices.Sort(others)
		references := make([]cdx.VulnerabilityReference, len(others))
		for i, other := range others {
			references[i] = cdx.VulnerabilityReference{ID: other, Source: &cdx.Source{Name: "OSV", URL: osvURL(other)}}
		}
		v.References = &references
	}
	v.Ratings = &ratings
	v.Recommendation = strings.Join(recommend, "; ")
	slices.SortFunc(affects, func(a, b cdx.Affects) int { return cmp.Compare(a.Ref, b.Ref) })
	v.Affects = &affects
	return v
}

// cycloneDXRating says how bad a finding is and by which measure; a rating
// from an advisory's or a distro's own scale is "other", named in source.
func cycloneDXRating(f vuln.Finding) cdx.VulnerabilityRating {
	r := cdx.VulnerabilityRating{Severity: cdx.Severity(f.Severity.String())}
	if f.Score > 0 {
		score := f.Score
		r.Score = &score
	}
	switch f.SeveritySource {
	case "CVSS_V4":
		r.Method = cdx.ScoringMethodCVSSv4
	case "CVSS_V3":
		r.Method = cdx.ScoringMethodCVSSv3
	default:
		// An unknown severity is "other" too: the encoder writes that for
		// no method at all.
		r.Method = cdx.ScoringMethodOther
		if f.SeveritySource != "" {
			r.Source = &cdx.Source{Name: f.SeveritySource}
		}
	}
	return r
}
