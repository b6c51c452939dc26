package registry

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PlatformImage is one platform's image of a reference, as the registry
// serves it now: what a tag points to for a build of that platform.
type PlatformImage struct {
	// Repository is the image's repository, "HOST/team/app".
	Repository string
	// Digest is the platform's image manifest's; Index the index's the
	// reference named, "" when it named an image manifest directly.
	Digest string
	Index  string
	// Created is the image config's creation time (when the image was
	// built), zero when the config has none.
	Created time.Time
	// Size is what a pull downloads: the config and the compressed layers.
	Size int64
	// Annotations are the image manifest's (the base image a build names
	// there: org.opencontainers.image.base.name and .digest).
	Annotations map[string]string
}

// Pinned is the image by digest, "HOST/team/app@sha256:...".
func (p *PlatformImage) Pinned() string { return p.Repository + "@" + p.Digest }

// Names says whether digest is this image's manifest or the index it was
// found in.
func (p *PlatformImage) Names(digest string) bool {
	return digest != "" && (digest == p.Digest || digest == p.Index)
}

// ResolvePlatform reads what ref names now for platform: an image manifest
// as it is, or from an index the image of that platform (attestation
// manifests are not images). Three small reads: the manifest or index, the
// platform's manifest, its config.
func ResolvePlatform(ctx context.Context, ref name.Reference, platform v1.Platform) (*PlatformImage, error) {
	desc, err := Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := &PlatformImage{Repository: ref.Context().String()}
	var img v1.Image
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", ref, err)
		}
		manifest, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", ref, err)
		}
		out.Index = desc.Digest.String()
		var child *v1.Descriptor
		var have []string
		for i, m := range manifest.Manifests {
			if m.Platform == nil || m.Platform.OS == "unknown" || !m.MediaType.IsImage() {
				continue
			}
			if m.Platform.Satisfies(platform) {
				child = &manifest.Manifests[i]
				break
			}
			have = append(have, m.Platform.String())
		}
		if child == nil {
			return nil, fmt.Errorf("%s has no %s image (it has %s)", ref, platform, strings.Join(have, ", "))
		}
		if img, err = Image(ctx, ref.Context().Digest(child.Digest.String())); err != nil {
			return nil, err
		}
	case desc.MediaType.IsImage():
		if img, err = desc.Image(); err != nil {
			return nil, fmt.Errorf("read image %s: %w", ref, err)
		}
	default:
		return nil, fmt.Errorf("%s is a %s, neither an image nor an index", ref, desc.MediaType)
	}
	manifest, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read the manifest of %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("read the manifest of %s: %w", ref, err)
	}
	out.Digest, out.Annotations = digest.String(), manifest.Annotations
	out.Size = manifest.Config.Size
	for _, l := range manifest.Layers {
		out.Size += l.Size
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image config of %s: %w", ref, err)
	}
	if cfg.OS != "" && (cfg.OS != platform.OS || cfg.Architecture != platform.Architecture) && out.Index == "" {
		return nil, fmt.Errorf("%s is a %s/%s image, not %s", ref, cfg.OS, cfg.Architecture, platform)
	}
	out.Created = cfg.Created.Time
	return out, nil
}
