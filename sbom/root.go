package sbom

import (
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/package-url/packageurl-go"
)

// Image is what is known of the image a catalog was made of: its manifest
// digest and platform always, its repository and tag when the source named
// them (an image of a registry, not one of a layout folder or a tar).
type Image struct {
	// Digest is the image manifest's digest, "sha256:…".
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	// Repository is the full repository, "index.docker.io/library/alpine".
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`
}

// Named records the repository (and tag) the image was pulled by.
func (i *Image) Named(ref name.Reference) {
	i.Repository = ref.Context().Name()
	if tag, ok := ref.(name.Tag); ok {
		i.Tag = tag.TagStr()
	}
}

// RootVersion is the version of what was cataloged, the root package's
// versionInfo: an image's manifest digest, else the digest of the catalog
// itself (a folder or a build stage has no version of its own, and SBOM
// checkers such as the NTIA minimum elements want one of every package).
func (s *SBOM) RootVersion() string {
	if s.Image != nil && s.Image.Digest != "" {
		return s.Image.Digest
	}
	return "sha256:" + s.contentHash()
}

// RootPURL is the purl of what was cataloged. An image whose repository is
// known is pkg:oci as the purl spec defines it (name the repository's last
// fragment, version the manifest digest, repository_url, arch and tag as
// qualifiers), as Syft and Trivy write an image's. Anything else (a folder,
// a build stage, an image of a layout folder or a tar) has no purl type of
// its own, and Syft and Trivy write no purl for it; validators and
// Dependency-Track want one, so it is pkg:generic, the spec's type for
// what no other type fits, named after the source and versioned as
// RootVersion.
func (s *SBOM) RootPURL() string {
	if img := s.Image; img != nil && img.Repository != "" && img.Digest != "" {
		q := map[string]string{"repository_url": img.Repository}
		if img.Architecture != "" {
			q["arch"] = img.Architecture
		}
		if img.Tag != "" {
			q["tag"] = img.Tag
		}
		name := img.Repository[strings.LastIndex(img.Repository, "/")+1:]
		return packageurl.NewPackageURL(packageurl.TypeOCI, "", name, img.Digest, packageurl.QualifiersFromMap(q), "").ToString()
	}
	return packageurl.NewPackageURL(packageurl.TypeGeneric, "", genericName(s.Source), s.RootVersion(), nil, "").ToString()
}

// OSPURL is the purl of the distribution: pkg:generic, for no purl type
// names an operating system (Syft and Trivy give theirs none).
func (d *Distro) OSPURL() string {
	return packageurl.NewPackageURL(packageurl.TypeGeneric, "", d.ID, firstNonEmpty(d.VersionID, d.VersionCodename), nil, "").ToString()
}

var genericNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// genericName makes a source ("final stage", "oci-layout:out:v1") a purl
// name without the characters a purl would have to escape.
func genericName(source string) string {
	if n := strings.Trim(genericNameChars.ReplaceAllString(source, "-"), "-"); n != "" {
		return n
	}
	return "root"
}
