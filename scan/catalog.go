package scan

import (
	"context"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/sbom"
)

// Catalog catalogs what target names, for the sbom and scan commands: an image
// source (registry:, oci-layout:, docker-archive:), whose layers are applied
// in order into a temporary folder removed before it returns; the packages
// of an SPDX document, "sbom:FILE"; a file, which must be an image tar
// (docker save's or an OCI layout's, told apart by content); or else a
// directory holding a root filesystem. The SBOM's source is the target as
// given.
func Catalog(ctx context.Context, target string) (*sbom.SBOM, error) {
	if file, ok := strings.CutPrefix(target, sbom.SBOMPrefix); ok {
		return sbom.ReadSPDX(file)
	}
	if registry.IsSource(target) {
		img, err := registry.Open(ctx, target)
		if err != nil {
			return nil, err
		}
		s, err := sbom.CatalogImage(ctx, img, target)
		if err != nil {
			return nil, err
		}
		// A registry's image is known by its repository: the SBOM's root
		// purl names it (registry.Open parsed the reference already).
		if ref, ok := strings.CutPrefix(target, registry.RegistryPrefix); ok {
			if r, err := name.ParseReference(ref); err == nil {
				s.Image.Named(r)
			}
		}
		return s, nil
	}
	if fi, err := os.Stat(target); err == nil && !fi.IsDir() {
		img, err := registry.OpenTar(target)
		if err != nil {
			return nil, err
		}
		return sbom.CatalogImage(ctx, img, target)
	}
	return sbom.Catalog(ctx, target, target)
}
