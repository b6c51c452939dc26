package scan

import (
	"context"
	"strings"

	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/sbom"
)

// Catalog catalogs what target names, for the sbom and scan commands: an image
// source (registry:, oci-layout:, docker-archive:), whose layers are applied
// in order into a temporary folder removed before it returns; the packages
// of an SPDX document, "sbom:FILE"; or else a directory holding a root
// filesystem. The SBOM's source is the target as given.
func Catalog(ctx context.Context, target string) (*sbom.SBOM, error) {
	if file, ok := strings.CutPrefix(target, sbom.SBOMPrefix); ok {
		return sbom.ReadSPDX(file)
	}
	if registry.IsSource(target) {
		img, err := registry.Open(ctx, target)
		if err != nil {
			return nil, err
		}
		return sbom.CatalogImage(ctx, img, target)
	}
	return sbom.Catalog(ctx, target, target)
}
