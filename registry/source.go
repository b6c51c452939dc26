package registry

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The prefixes of the image sources the commands take. Explicit, so that a
// folder is never mistaken for an image name.
const (
	// RegistryPrefix names an image in a registry, "registry:REF", REF as
	// docker pull takes it (a tag or a digest).
	RegistryPrefix = "registry:"
	// OCILayoutPrefix names an image of an OCI layout folder,
	// "oci-layout:PATH[:TAG|@DIGEST]".
	OCILayoutPrefix = "oci-layout:"
	// DockerArchivePrefix names the image of a tar written by docker save,
	// "docker-archive:FILE".
	DockerArchivePrefix = "docker-archive:"
)

// IsSource says whether target names an image source: it has one of the
// prefixes.
func IsSource(target string) bool {
	return strings.HasPrefix(target, RegistryPrefix) || strings.HasPrefix(target, OCILayoutPrefix) ||
		strings.HasPrefix(target, DockerArchivePrefix)
}

// Open opens the image source names. Where the source holds a
// multi-platform index, the linux image of this machine's architecture is
// taken; name another platform's image by its digest.
func Open(ctx context.Context, source string) (v1.Image, error) {
	if ref, ok := strings.CutPrefix(source, RegistryPrefix); ok {
		return openRemote(ctx, ref)
	}
	if ref, ok := strings.CutPrefix(source, OCILayoutPrefix); ok {
		return openOCILayout(ref)
	}
	if file, ok := strings.CutPrefix(source, DockerArchivePrefix); ok {
		img, err := tarball.ImageFromPath(file, nil)
		if err != nil {
			return nil, fmt.Errorf("open docker archive %s: %w", file, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("%q is not an image source: want %sREF, %sPATH[:TAG|@DIGEST] or %sFILE",
		source, RegistryPrefix, OCILayoutPrefix, DockerArchivePrefix)
}

// openRemote opens REF in its registry.
func openRemote(ctx context.Context, ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	desc, err := Get(ctx, r)
	if err != nil {
		return nil, err
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", r, err)
		}
		return thisPlatform(idx, "index "+r.String())
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", r, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("%s is a %s, neither an image nor an index", r, desc.MediaType)
}

// openOCILayout opens PATH, PATH:TAG or PATH@DIGEST. Without a tag or digest
// the layout must hold one image (or one index).
func openOCILayout(ref string) (v1.Image, error) {
	dir, digest, tag := ref, "", ""
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		dir, digest = ref[:i], ref[i+1:]
	} else if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.ContainsAny(ref[i+1:], `/\`) {
		dir, tag = ref[:i], ref[i+1:]
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("open OCI layout %s: %w", dir, err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read OCI layout %s index: %w", dir, err)
	}
	var picked []v1.Descriptor
	for _, d := range manifest.Manifests {
		name := d.Annotations["org.opencontainers.image.ref.name"]
		switch {
		case digest != "" && d.Digest.String() == digest,
			tag != "" && (name == tag || strings.HasSuffix(name, ":"+tag)),
			digest == "" && tag == "":
			picked = append(picked, d)
		}
	}
	switch {
	case len(picked) == 0 && digest != "":
		return nil, fmt.Errorf("OCI layout %s has no manifest %s", dir, digest)
	case len(picked) == 0 && tag != "":
		return nil, fmt.Errorf("OCI layout %s has no image tagged %q", dir, tag)
	case len(picked) == 0:
		return nil, fmt.Errorf("OCI layout %s holds no image", dir)
	case len(picked) > 1:
		return nil, fmt.Errorf("OCI layout %s holds %d images: name one with :TAG or @DIGEST", dir, len(picked))
	}
	d := picked[0]
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("open index %s in OCI layout %s: %w", d.Digest, dir, err)
		}
		return thisPlatform(child, fmt.Sprintf("index %s in OCI layout %s", d.Digest, dir))
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("open image %s in OCI layout %s: %w", d.Digest, dir, err)
	}
	return img, nil
}

// thisPlatform picks the linux image of this machine's architecture from an
// index; what names the index in errors.
func thisPlatform(idx v1.ImageIndex, what string) (v1.Image, error) {
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	var platforms []string
	for _, m := range manifest.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue // attestation manifests
		}
		if m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
			img, err := idx.Image(m.Digest)
			if err != nil {
				return nil, fmt.Errorf("open image %s of %s: %w", m.Digest, what, err)
			}
			return img, nil
		}
		platforms = append(platforms, m.Platform.String()+" "+m.Digest.String())
	}
	return nil, fmt.Errorf("%s has no linux/%s image; name one by digest: %s", what, runtime.GOARCH, strings.Join(platforms, ", "))
}
