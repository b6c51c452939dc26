// Package sbom catalogs the packages of a root filesystem and encodes them as
// SPDX 2.3 and CycloneDX 1.6 documents. It knows nothing of vulnerabilities:
// later steps re-match from the packages (or from the SPDX alone), so every
// fact they need is in a package's purl.
package sbom

import (
	"fmt"
	"io"
)

// Package is one software package found in a root filesystem. One package
// found in several places is one Package with several Locations.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Type is the purl type: deb, apk, rpm, golang, npm, pypi, maven, gem,
	// cargo, composer, nuget.
	Type string `json:"type"`
	PURL string `json:"purl"`
	// SourceName and SourceVersion name the distro source package (dpkg
	// Source, apk origin, rpm source rpm) that vulnerability data is keyed by.
	SourceName    string   `json:"sourceName,omitempty"`
	SourceVersion string   `json:"sourceVersion,omitempty"`
	Licenses      []string `json:"licenses,omitempty"`
	// Locations are absolute paths inside the root, sorted.
	Locations []string `json:"locations"`
}

// Distro is what /etc/os-release says of the root's distribution.
type Distro struct {
	ID              string `json:"id"`
	VersionID       string `json:"versionID,omitempty"`
	VersionCodename string `json:"versionCodename,omitempty"`
	PrettyName      string `json:"prettyName,omitempty"`
}

// PURLQualifier is the distro qualifier of the purls of its packages, as
// Syft writes it: "debian-12", else the codename, else the id alone.
func (d *Distro) PURLQualifier() string {
	switch {
	case d == nil || d.ID == "":
		return ""
	case d.VersionID != "":
		return d.ID + "-" + d.VersionID
	case d.VersionCodename != "":
		return d.ID + "-" + d.VersionCodename
	}
	return d.ID
}

// SBOM is the catalog of one root filesystem.
type SBOM struct {
	// Source names what was cataloged, as the user gave it.
	Source string `json:"source"`
	// Image is the image cataloged, nil for a folder.
	Image    *Image    `json:"image,omitempty"`
	Distro   *Distro   `json:"distro,omitempty"`
	Packages []Package `json:"packages"`
	// Incomplete names each thing that decides findings and could not be
	// read completely: a package database that could not be parsed, an
	// archive a bound cut short, a file that could not be opened. The
	// catalog holds everything else; a gate fails on a non-empty list
	// unless its policy relaxes it.
	Incomplete []Incompleteness `json:"incomplete,omitempty"`
}

// Incompleteness is one reason a catalog is not complete: the path inside
// the root (or the image) and what went wrong there.
type Incompleteness struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func (i Incompleteness) String() string {
	if i.Path == "" {
		return i.Reason
	}
	return i.Path + ": " + i.Reason
}

// readBounded reads r to the end, refusing more than limit bytes: a
// metadata file that large is hostile or broken, not a package record.
func readBounded(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, limit)
	}
	return b, nil
}
