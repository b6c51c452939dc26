package sbom

import (
	"slices"
	"strings"

	"github.com/google/osv-scalibr/extractor/filesystem"
)

// installedNodeModule takes a package.json only inside a node_modules
// folder, which is where npm, yarn and pnpm install packages. Elsewhere a
// package.json is a project's own manifest, a test fixture, or a file of a
// distro package (Debian's Node modules live in /usr/share/nodejs and are
// deb packages, matched as such); none is an installed npm package.
type installedNodeModule struct {
	filesystem.Extractor
}

func (n installedNodeModule) FileRequired(api filesystem.FileAPI) bool {
	dirs := strings.Split(api.Path(), "/")
	return slices.Contains(dirs[:len(dirs)-1], "node_modules") && n.Extractor.FileRequired(api)
}
