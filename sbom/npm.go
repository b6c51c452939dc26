package sbom

import (
	"context"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
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

// Extract reads the package.json. One that cannot be parsed makes the scan
// incomplete only at a package's root (node_modules/NAME/package.json or
// node_modules/@SCOPE/NAME/package.json): deeper ones are a package's own
// files, and packages such as resolve ship malformed ones as test fixtures.
func (n installedNodeModule) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	inv, err := n.Extractor.Extract(ctx, in)
	if err != nil && !isPackageRoot(in.Path) {
		return inv, nil
	}
	return inv, err
}

// isPackageRoot says whether p is the package.json of an installed package.
func isPackageRoot(p string) bool {
	dirs := strings.Split(p, "/")
	n := len(dirs)
	switch {
	case n >= 3 && dirs[n-3] == "node_modules":
		return !strings.HasPrefix(dirs[n-2], "@")
	case n >= 4 && dirs[n-4] == "node_modules":
		return strings.HasPrefix(dirs[n-3], "@")
	}
	return false
}
