package vuln

import (
	"strconv"
	"strings"

	"github.com/package-url/packageurl-go"
	"github.com/secure-build/secure-build/sbom"
)

// target is what a package is looked up as in OSV.
type target struct {
	ecosystem string // "Debian:12", "Go", "PyPI"
	name      string
	version   string
}

// archiveOf is the OSV archive an ecosystem's records are published in:
// "Debian:12" is in "Debian".
func archiveOf(ecosystem string) string {
	a, _, _ := strings.Cut(ecosystem, ":")
	return a
}

// lookupTarget says how OSV names a package: from its purl alone, so that a
// package re-read from an SPDX document matches like a freshly cataloged one.
// A distro package is looked up by its source package in the release's
// ecosystem. ok is false for packages OSV has no ecosystem for.
func lookupTarget(p sbom.Package) (target, bool) {
	purl, err := packageurl.FromString(p.PURL)
	if err != nil {
		return target{}, false
	}
	q := purl.Qualifiers.Map()
	name, version := purl.Name, purl.Version
	if purl.Namespace != "" {
		name = purl.Namespace + "/" + purl.Name
	}
	switch purl.Type {
	case packageurl.TypeDebian:
		eco := distroEcosystem(purl.Namespace, q["distro"])
		if eco == "" {
			return target{}, false
		}
		srcName, srcVersion := purl.Name, purl.Version
		if up := q["upstream"]; up != "" {
			n, v, hasVersion := strings.Cut(up, "@")
			srcName = n
			if hasVersion && v != "" {
				srcVersion = v
			}
		}
		return target{eco, srcName, srcVersion}, true
	case packageurl.TypeApk:
		eco := distroEcosystem(purl.Namespace, q["distro"])
		if eco == "" {
			return target{}, false
		}
		srcName := purl.Name
		if up := q["upstream"]; up != "" {
			srcName, _, _ = strings.Cut(up, "@")
		}
		return target{eco, srcName, purl.Version}, true
	case packageurl.TypeRPM:
		eco := distroEcosystem(purl.Namespace, q["distro"])
		if eco == "" {
			return target{}, false
		}
		if e := q["epoch"]; e != "" && e != "0" {
			version = e + ":" + version
		}
		return target{eco, purl.Name, version}, true
	case packageurl.TypeGolang:
		v := strings.TrimPrefix(version, "v")
		if name == "stdlib" {
			v = strings.TrimPrefix(v, "go")
		}
		return target{"Go", name, v}, true
	case packageurl.TypeNPM:
		return target{"npm", name, version}, true
	case packageurl.TypePyPi:
		return target{"PyPI", sbom.NormalizePythonName(name), version}, true
	case packageurl.TypeMaven:
		return target{"Maven", purl.Namespace + ":" + purl.Name, version}, true
	case packageurl.TypeGem:
		return target{"RubyGems", name, version}, true
	case packageurl.TypeCargo:
		return target{"crates.io", name, version}, true
	case packageurl.TypeComposer:
		return target{"Packagist", name, version}, true
	case packageurl.TypeNuget:
		return target{"NuGet", name, version}, true
	}
	return target{}, false
}

// distroEcosystem turns a purl's distro ("debian-12", "ubuntu-22.04",
// "alpine-3.19.1", "rocky-9.3") into OSV's ecosystem for that release.
func distroEcosystem(namespace, distro string) string {
	id, version, _ := strings.Cut(distro, "-")
	if id == "" {
		id = namespace
	}
	major, _, _ := strings.Cut(version, ".")
	switch id {
	case "debian":
		if version == "" {
			return ""
		}
		return "Debian:" + major
	case "ubuntu":
		if version == "" {
			return ""
		}
		return "Ubuntu:" + ubuntuRelease(version)
	case "alpine":
		parts := strings.Split(version, ".")
		if len(parts) < 2 {
			return ""
		}
		return "Alpine:v" + parts[0] + "." + parts[1]
	case "rocky":
		return "Rocky Linux:" + major
	case "almalinux":
		return "AlmaLinux:" + major
	case "rhel":
		return "Red Hat:enterprise_linux:" + major
	case "opensuse-leap", "opensuse":
		return "openSUSE:Leap " + version
	case "sles":
		return "SUSE:Linux Enterprise Server " + version
	case "mageia":
		return "Mageia:" + version
	case "openeuler":
		return "openEuler:" + version
	case "wolfi":
		return "Wolfi"
	case "chainguard":
		return "Chainguard"
	}
	return ""
}

// ubuntuRelease adds ":LTS" to the long-term releases (an even year's .04),
// as OSV's Ubuntu ecosystem names them.
func ubuntuRelease(version string) string {
	year, month, ok := strings.Cut(version, ".")
	y, err := strconv.Atoi(year)
	if ok && err == nil && month == "04" && y%2 == 0 {
		return version + ":LTS"
	}
	return version
}

// indexName is how a package name is keyed in the index: PyPI names
// normalized, the others as OSV writes them.
func indexName(ecosystem, name string) string {
	if archiveOf(ecosystem) == "PyPI" {
		return sbom.NormalizePythonName(name)
	}
	return name
}
