package sbom

import (
	"errors"
	"strconv"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	scalibrpurl "github.com/google/osv-scalibr/purl"
	"github.com/package-url/packageurl-go"
)

// convert turns an osv-scalibr package into ours, with the purl conventions
// the rest of the product relies on: a distro package's source package in
// the upstream qualifier (as Syft writes it), Go versions as go.mod writes
// them, Python names normalized.
func convert(p *extractor.Package, d *Distro) (Package, error) {
	if p.Name == "" || p.Version == "" {
		return Package{}, errors.New("package record without a name or a version")
	}
	out := Package{
		Name:      p.Name,
		Version:   p.Version,
		Type:      p.PURLType,
		Licenses:  cleanLicenses(p.Licenses),
		Locations: locations(p),
	}
	var namespace, name string
	version := p.Version
	qualifiers := map[string]string{}
	switch p.PURLType {
	case scalibrpurl.TypeDebian, scalibrpurl.TypeOpkg:
		namespace = distroNamespace(d, "debian")
		out.SourceName, out.SourceVersion = p.Name, p.Version
		if m, ok := p.Metadata.(*dpkgmeta.Metadata); ok {
			qualifiers["arch"] = m.Architecture
			if m.SourceName != "" {
				out.SourceName = m.SourceName
			}
			if m.SourceVersion != "" {
				out.SourceVersion = m.SourceVersion
			}
		}
		qualifiers["upstream"] = out.SourceName + "@" + out.SourceVersion
		name = p.Name
	case scalibrpurl.TypeApk:
		namespace = distroNamespace(d, "alpine")
		out.SourceName, out.SourceVersion = p.Name, p.Version
		if m, ok := p.Metadata.(*apkmeta.Metadata); ok {
			qualifiers["arch"] = m.Architecture
			if m.OriginName != "" {
				out.SourceName = m.OriginName
			}
		}
		// An origin and its subpackages share one version, so the name is enough.
		qualifiers["upstream"] = out.SourceName
		name = p.Name
	case scalibrpurl.TypeRPM:
		namespace = distroNamespace(d, "rpm")
		out.SourceName, out.SourceVersion = p.Name, p.Version
		if m, ok := p.Metadata.(*rpmmeta.Metadata); ok {
			qualifiers["arch"] = m.Architecture
			if m.Epoch > 0 {
				qualifiers["epoch"] = strconv.Itoa(m.Epoch)
				out.Version = strconv.Itoa(m.Epoch) + ":" + p.Version
			}
			if m.SourceRPM != "" {
				qualifiers["upstream"] = m.SourceRPM
				if n, v, ok := parseSourceRPM(m.SourceRPM); ok {
					out.SourceName, out.SourceVersion = n, v
				}
			}
		}
		name = p.Name
	case scalibrpurl.TypeGolang:
		out.Name, out.Version = goNameVersion(p.Name, p.Version)
		version = out.Version
		namespace, name = splitLast(out.Name, "/")
	case scalibrpurl.TypeNPM:
		if strings.HasPrefix(p.Name, "@") {
			namespace, name = splitLast(p.Name, "/")
		} else {
			name = p.Name
		}
	case scalibrpurl.TypePyPi:
		out.Name = NormalizePythonName(p.Name)
		name = out.Name
	case scalibrpurl.TypeComposer:
		namespace, name = splitLast(p.Name, "/")
	default:
		sp := p.PURL()
		if sp == nil {
			return Package{}, errors.New("package " + p.Name + " has no purl type")
		}
		namespace, name, version = sp.Namespace, sp.Name, sp.Version
	}
	if q := d.PURLQualifier(); q != "" && isDistroType(p.PURLType) {
		qualifiers["distro"] = q
	}
	for k, v := range qualifiers {
		if v == "" || v == "@" {
			delete(qualifiers, k)
		}
	}
	out.PURL = packageurl.NewPackageURL(out.Type, namespace, name, version, packageurl.QualifiersFromMap(qualifiers), "").ToString()
	return out, nil
}

func isDistroType(t string) bool {
	switch t {
	case scalibrpurl.TypeDebian, scalibrpurl.TypeOpkg, scalibrpurl.TypeApk, scalibrpurl.TypeRPM:
		return true
	}
	return false
}

func distroNamespace(d *Distro, fallback string) string {
	if d != nil && d.ID != "" {
		return d.ID
	}
	return fallback
}

func locations(p *extractor.Package) []string {
	var out []string
	if path := p.Location.PathOrEmpty(); path != "" {
		out = append(out, slashPath(path))
	}
	return out
}

// goNameVersion names the toolchain "stdlib", as OSV's Go database does,
// and writes versions with their "v" as go.mod does.
func goNameVersion(name, version string) (string, string) {
	if name == "go" {
		return "stdlib", "v" + strings.TrimPrefix(version, "go")
	}
	if version == "(devel)" || strings.HasPrefix(version, "v") {
		return name, version
	}
	return name, "v" + version
}

func splitLast(s, sep string) (string, string) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+len(sep):]
}

// NormalizePythonName is PEP 503's name normalization: lower case, and each
// run of "-", "_" and "." one "-". OSV's PyPI names follow it.
func NormalizePythonName(name string) string {
	var b strings.Builder
	inSeparator := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			if !inSeparator {
				b.WriteByte('-')
			}
			inSeparator = true
			continue
		}
		inSeparator = false
		b.WriteRune(r)
	}
	return b.String()
}

// parseSourceRPM splits "openssl-3.0.7-27.el9.src.rpm" into its name and
// version-release.
func parseSourceRPM(s string) (string, string, bool) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, ".rpm"), ".src")
	s = strings.TrimSuffix(s, ".nosrc")
	rest, release := splitLast(s, "-")
	name, version := splitLast(rest, "-")
	if name == "" || version == "" || release == "" {
		return "", "", false
	}
	return name, version + "-" + release, true
}

func cleanLicenses(in []string) []string {
	var out []string
	for _, l := range in {
		if l = firstLine(l); l != "" && !strings.EqualFold(l, "UNKNOWN") {
			out = append(out, l)
		}
	}
	return out
}
