package scan

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// baseReadTimeout bounds reading a base image from its registry to find
// where it ends in the image: past it, the boundary is guessed instead.
const baseReadTimeout = 10 * time.Second

// Attribute gives each finding the origins of its package's locations
// (none when a is nil: nothing was attributed).
func Attribute(findings []vuln.Finding, a origin.Attribution) {
	for i := range findings {
		p := &findings[i].Package
		p.Origins = a.Of(p.PURL, p.Locations)
	}
}

// CatalogAttributed catalogs target as Catalog does and, for an image (an
// image source or an image tar), attributes each package location to the
// layer that brought it; the attribution is nil for a folder or an SBOM.
func CatalogAttributed(ctx context.Context, target string) (*sbom.SBOM, origin.Attribution, error) {
	var img v1.Image
	var idx v1.ImageIndex
	var err error
	switch fi, statErr := os.Stat(target); {
	case registry.IsSource(target):
		img, idx, err = registry.OpenIndexed(ctx, target)
	case strings.HasPrefix(target, sbom.SBOMPrefix) || statErr != nil || fi.IsDir():
		doc, err := Catalog(ctx, target)
		return doc, nil, err
	default:
		img, idx, err = registry.OpenTarIndexed(target)
	}
	if err != nil {
		return nil, nil, err
	}
	var prov *attest.Provenance
	var provErr error
	if idx != nil {
		prov, provErr = readProvenance(img, idx)
	}
	doc, a, err := CatalogImageAttributed(ctx, img, target, prov)
	if err != nil {
		return nil, nil, err
	}
	if provErr != nil {
		// The findings stand; where they came from cannot be told.
		a = origin.Unknowns(doc, provErr.Error())
	}
	if ref, ok := strings.CutPrefix(target, registry.RegistryPrefix); ok {
		if r, err := name.ParseReference(ref); err == nil {
			doc.Image.Named(r)
		}
	}
	return doc, a, nil
}

func readProvenance(img v1.Image, idx v1.ImageIndex) (*attest.Provenance, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	prov, err := attest.ReadProvenance(idx, digest)
	if err != nil {
		return nil, fmt.Errorf("read the provenance: %w", err)
	}
	return prov, nil
}

// CatalogImageAttributed catalogs img, which source names, and attributes
// each package location to the layer that brought it, with what ImageFacts
// tells of the layers; prov is the image's provenance, nil for none.
func CatalogImageAttributed(ctx context.Context, img v1.Image, source string, prov *attest.Provenance) (*sbom.SBOM, origin.Attribution, error) {
	doc, layers, err := sbom.CatalogImageLayers(ctx, img, source)
	if err != nil {
		return nil, nil, err
	}
	defer layers.Close()
	facts, err := ImageFacts(ctx, img, prov)
	if err != nil {
		return doc, origin.Unknowns(doc, err.Error()), nil
	}
	return doc, origin.TraceImage(ctx, doc, layers, facts), nil
}

// ImageFacts are what an image says of its layers: their history, the
// Dockerfile lines its BuildKit provenance (mode=max) gives each, and
// where its base image ends. The base is, in this order, the one its own
// base annotations name, with the boundary its provenance gives or, when
// it has none, the base's layers as its registry has them; the docker-image
// source its provenance started from; else a probable base guessed from
// its history. prov is the image's provenance, nil for none.
func ImageFacts(ctx context.Context, img v1.Image, prov *attest.Provenance) (origin.ImageFacts, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return origin.ImageFacts{}, fmt.Errorf("read the config: %w", err)
	}
	manifest, err := img.Manifest()
	if err != nil {
		return origin.ImageFacts{}, fmt.Errorf("read the manifest: %w", err)
	}
	facts := origin.ImageFacts{Layers: origin.LayersOf(cfg)}
	if prov != nil {
		facts.Base = withProvenance(&facts, prov.LayerSources(manifest.Layers, cfg.RootFS.DiffIDs))
	}
	baseName, baseDigest := manifest.Annotations[ocispecs.AnnotationBaseImageName], manifest.Annotations[ocispecs.AnnotationBaseImageDigest]
	if baseName != "" && baseDigest != "" {
		if facts.Base == nil {
			facts.Base = baseFromRegistry(ctx, baseName, baseDigest, cfg)
		}
		if facts.Base == nil {
			facts.Base = origin.ProbableBase(cfg)
		}
		if facts.Base != nil {
			facts.Base.Name, facts.Base.Digest = baseName, baseDigest
		}
	}
	if facts.Base == nil {
		facts.Base = origin.ProbableBase(cfg)
	}
	return facts, nil
}

// withProvenance puts the provenance's Dockerfile locations on the layers,
// and returns the base it started from: the layers its docker-image source
// made, when they are the image's first; nil for none.
func withProvenance(facts *origin.ImageFacts, sources []*attest.LayerSource) *origin.ImageBase {
	var base *origin.ImageBase
	for i, s := range sources {
		if s == nil || i >= len(facts.Layers) {
			continue
		}
		l := &facts.Layers[i]
		l.File, l.StartLine, l.EndLine, l.Instruction = s.File, s.StartLine, s.EndLine, s.Instruction
		if s.Base && (i == 0 || base != nil && base.Layers == i) {
			base = &origin.ImageBase{Layers: i + 1, Name: s.BaseRef, Digest: s.BaseDigest}
		}
	}
	return base
}

// baseFromRegistry reads the base image baseName@baseDigest for the
// image's platform, and returns its layers when they are the image's
// first; nil when it cannot be read or is not the image's base.
func baseFromRegistry(ctx context.Context, baseName, baseDigest string, cfg *v1.ConfigFile) *origin.ImageBase {
	ref, err := name.NewDigest(strings.SplitN(baseName, "@", 2)[0] + "@" + baseDigest)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, baseReadTimeout)
	defer cancel()
	desc, err := registry.Get(ctx, ref)
	if err != nil {
		return nil
	}
	var base v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil
		}
		base, err = platformImage(idx, cfg.Platform())
		if err != nil {
			return nil
		}
	} else if base, err = desc.Image(); err != nil {
		return nil
	}
	baseCfg, err := base.ConfigFile()
	if err != nil {
		return nil
	}
	ids := baseCfg.RootFS.DiffIDs
	if len(ids) == 0 || len(ids) > len(cfg.RootFS.DiffIDs) || !slices.Equal(ids, cfg.RootFS.DiffIDs[:len(ids)]) {
		return nil
	}
	return &origin.ImageBase{Layers: len(ids)}
}

// platformImage is idx's image for platform.
func platformImage(idx v1.ImageIndex, platform *v1.Platform) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && platform != nil && d.Platform.Satisfies(*platform) {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for %v", platform)
}
