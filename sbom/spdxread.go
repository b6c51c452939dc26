package sbom

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// SBOMPrefix names an SPDX JSON document as a target: its packages are taken
// as they are, nothing is cataloged.
const SBOMPrefix = "sbom:"

// ReadSPDX reads the packages of an SPDX 2.x JSON document, such as one this
// package wrote or a build attached: every package with a purl but the
// document's root, and the distribution from the OPERATING_SYSTEM package
// (OPERATING-SYSTEM in documents of earlier versions). The purls carry what
// matching needs (the upstream source package, the distro), so a document
// alone can be matched again.
func ReadSPDX(file string) (*SBOM, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read SPDX document %s: %w", file, err)
	}
	defer f.Close()
	return DecodeSPDX(f, file)
}

// DecodeSPDX is ReadSPDX over a reader; file names the document in the SBOM's
// source and in errors.
func DecodeSPDX(r io.Reader, file string) (*SBOM, error) {
	doc, err := spdxjson.Read(r)
	if err != nil {
		return nil, fmt.Errorf("read SPDX document %s: %w", file, err)
	}
	s := &SBOM{Source: SBOMPrefix + file}
	roots := documentRoots(doc)
	byPURL := map[string]*Package{}
	for _, p := range doc.Packages {
		if (p.PrimaryPackagePurpose == purposeOperatingSystem || p.PrimaryPackagePurpose == "OPERATING-SYSTEM") && s.Distro == nil {
			s.Distro = &Distro{ID: p.PackageName, VersionID: p.PackageVersion, PrettyName: p.PackageDescription}
			continue
		}
		if roots[p.PackageSPDXIdentifier] {
			continue
		}
		for _, ref := range p.PackageExternalReferences {
			if ref.Category != common.CategoryPackageManager || ref.RefType != common.TypePackageManagerPURL {
				continue
			}
			purl, err := packageurl.FromString(ref.Locator)
			if err != nil {
				return nil, fmt.Errorf("read SPDX document %s: package %s: purl %q: %w", file, p.PackageName, ref.Locator, err)
			}
			pkg := Package{Name: p.PackageName, Version: p.PackageVersion, Type: purl.Type, PURL: ref.Locator}
			if up := purl.Qualifiers.Map()["upstream"]; up != "" && isDistroType(purl.Type) {
				pkg.SourceName, pkg.SourceVersion, _ = strings.Cut(up, "@")
			}
			if l := p.PackageLicenseDeclared; l != "" && l != noAssertion && l != "NONE" {
				pkg.Licenses = []string{l}
			}
			if found, ok := strings.CutPrefix(p.PackageSourceInfo, "found in: "); ok && found != "" {
				pkg.Locations = strings.Split(found, ", ")
			}
			if have, ok := byPURL[pkg.PURL]; ok {
				have.Locations = append(have.Locations, pkg.Locations...)
				continue
			}
			byPURL[pkg.PURL] = &pkg
		}
	}
	for _, p := range byPURL {
		p.Locations = sortedUnique(p.Locations)
		s.Packages = append(s.Packages, *p)
	}
	for _, a := range doc.Annotations {
		text, ok := strings.CutPrefix(a.AnnotationComment, incompleteAnnotation)
		if !ok {
			continue
		}
		var gap Incompleteness
		if err := json.Unmarshal([]byte(text), &gap); err != nil || gap.Reason == "" {
			// Damaged, it still says the document is incomplete.
			gap = Incompleteness{Reason: text}
		}
		s.Incomplete = append(s.Incomplete, gap)
	}
	s.Incomplete = SortGaps(s.Incomplete)
	slices.SortFunc(s.Packages, func(a, b Package) int { return strings.Compare(a.PURL, b.PURL) })
	return s, nil
}

// documentRoots are the packages that stand for what a document describes,
// not for what it found: those the document DESCRIBES that CONTAIN others.
// Their purls (pkg:oci, pkg:generic) name the image or folder, which is no
// package to match.
func documentRoots(doc *spdx.Document) map[common.ElementID]bool {
	described, containers := map[common.ElementID]bool{}, map[common.ElementID]bool{}
	for _, r := range doc.Relationships {
		switch {
		case r.RefA.ElementRefID == "DOCUMENT" && r.Relationship == common.TypeRelationshipDescribe:
			described[r.RefB.ElementRefID] = true
		case r.Relationship == common.TypeRelationshipContains:
			containers[r.RefA.ElementRefID] = true
		}
	}
	for id := range described {
		if !containers[id] {
			delete(described, id)
		}
	}
	return described
}
