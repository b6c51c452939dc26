package registry

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
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

// IsLocal says whether target names an image on this machine rather than
// in a registry: an oci-layout: or docker-archive: source, a file (an image
// tar), or a folder holding an OCI layout. A bare name that is none of
// these is a registry reference.
func IsLocal(target string) bool {
	if strings.HasPrefix(target, OCILayoutPrefix) || strings.HasPrefix(target, DockerArchivePrefix) {
		return true
	}
	fi, err := os.Stat(target)
	if err != nil {
		return false
	}
	if fi.IsDir() {
		_, err := os.Stat(filepath.Join(target, tarOCILayoutFile))
		return err == nil
	}
	return true
}

// Open opens the image source names. Where the source holds a
// multi-platform index, the linux image of this machine's architecture is
// taken; name another platform's image by its digest.
func Open(ctx context.Context, source string) (v1.Image, error) {
	img, _, err := OpenIndexed(ctx, source)
	return img, err
}

// OpenIndexed opens the image source names, as Open does, and returns the
// index it was picked from too: the index's other manifests may be the
// image's attestations. The index is nil when the source names an image
// manifest alone, or is a docker save archive.
func OpenIndexed(ctx context.Context, source string) (v1.Image, v1.ImageIndex, error) {
	if ref, ok := strings.CutPrefix(source, RegistryPrefix); ok {
		return openRemote(ctx, ref)
	}
	if ref, ok := strings.CutPrefix(source, OCILayoutPrefix); ok {
		return openOCILayout(ref)
	}
	if file, ok := strings.CutPrefix(source, DockerArchivePrefix); ok {
		return openDockerArchive(file)
	}
	return nil, nil, fmt.Errorf("%q is not an image source: want %sREF, %sPATH[:TAG|@DIGEST] or %sFILE",
		source, RegistryPrefix, OCILayoutPrefix, DockerArchivePrefix)
}

// openRemote opens REF in its registry.
func openRemote(ctx context.Context, ref string) (v1.Image, v1.ImageIndex, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	desc, err := Get(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, nil, fmt.Errorf("read index %s: %w", r, err)
		}
		return thisPlatform(idx, "index "+r.String())
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, nil, fmt.Errorf("read image %s: %w", r, err)
		}
		return img, nil, nil
	}
	return nil, nil, fmt.Errorf("%s is a %s, neither an image nor an index", r, desc.MediaType)
}

// OpenTar opens the image of an image tar, recognised by its content: a
// tar written by docker save (manifest.json: the image it names, every
// layer present), else an OCI image layout (oci-layout and index.json), as
// BuildKit's "-o type=oci,dest=FILE" writes it. The tar is read in place.
func OpenTar(file string) (v1.Image, error) {
	img, _, err := OpenTarIndexed(file)
	return img, err
}

// OpenTarIndexed is OpenTar, with the index the image was picked from, as
// OpenIndexed returns it.
func OpenTarIndexed(file string) (v1.Image, v1.ImageIndex, error) {
	t, err := readImageTar(file)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case t.isDockerArchive():
		return openDockerTar(t)
	case t.isOCILayout():
		return openLayoutTar(t, "", "")
	}
	return nil, nil, fmt.Errorf("%s is a tar, but neither a docker save archive (no %s) nor an OCI image layout (no %s and %s)",
		file, tarDockerFile, tarOCILayoutFile, tarOCIIndexFile)
}

// openDockerArchive opens the image of a docker save tar; a tar that is an
// OCI layout only, as BuildKit's type=oci output, is opened as one.
func openDockerArchive(file string) (v1.Image, v1.ImageIndex, error) {
	t, err := readImageTar(file)
	if err != nil {
		return nil, nil, fmt.Errorf("open docker archive: %w", err)
	}
	if !t.isDockerArchive() && t.isOCILayout() {
		return openLayoutTar(t, "", "")
	}
	return openDockerTar(t)
}

func openDockerTar(t *imageTar) (v1.Image, v1.ImageIndex, error) {
	if !t.isDockerArchive() {
		return nil, nil, fmt.Errorf("open docker archive %s: no %s: not a tar written by docker save", t.path, tarDockerFile)
	}
	// The tarball package reads manifest.json and the config whole.
	if size := t.entries[tarDockerFile].size; size > maxManifestSize {
		return nil, nil, fmt.Errorf("open docker archive %s: its %s has %d bytes, more than the %d it may have", t.path, tarDockerFile, size, maxManifestSize)
	}
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(t.path) })
	if err != nil {
		return nil, nil, fmt.Errorf("open docker archive %s: %s: %w", t.path, tarDockerFile, err)
	}
	for _, m := range manifest {
		if size := t.entries[path.Clean(m.Config)].size; size > maxManifestSize {
			return nil, nil, fmt.Errorf("open docker archive %s: its config %s has %d bytes, more than the %d it may have", t.path, m.Config, size, maxManifestSize)
		}
	}
	img, err := tarball.ImageFromPath(t.path, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("open docker archive %s: %w", t.path, err)
	}
	return img, nil, nil
}

// openOCILayout opens PATH, PATH:TAG or PATH@DIGEST, PATH a folder or a tar
// of one. Without a tag or digest the layout must hold one image (or one
// index).
func openOCILayout(ref string) (v1.Image, v1.ImageIndex, error) {
	dir, digest, tag := ref, "", ""
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		dir, digest = ref[:i], ref[i+1:]
	} else if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.ContainsAny(ref[i+1:], `/\`) {
		dir, tag = ref[:i], ref[i+1:]
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		t, err := readImageTar(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("open OCI layout: %w", err)
		}
		return openLayoutTar(t, digest, tag)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open OCI layout %s: %w", dir, err)
	}
	return pickImage(idx, dir, digest, tag)
}

// openLayoutTar opens the image tagged tag, or of digest, of the OCI
// layout in t; with neither, its one image.
func openLayoutTar(t *imageTar, digest, tag string) (v1.Image, v1.ImageIndex, error) {
	if !t.isOCILayout() {
		hint := ""
		if t.isDockerArchive() {
			hint = fmt.Sprintf(": it is a docker save archive, open it as %s%s", DockerArchivePrefix, t.path)
		}
		return nil, nil, fmt.Errorf("open OCI layout %s: no %s and %s in the tar%s", t.path, tarOCILayoutFile, tarOCIIndexFile, hint)
	}
	idx, err := openTarLayout(t)
	if err != nil {
		return nil, nil, fmt.Errorf("open OCI layout: %w", err)
	}
	return pickImage(idx, t.path, digest, tag)
}

// pickImage picks, from the index of the layout at layoutPath, the
// manifest of digest, the one tagged tag, or with neither the one there is.
func pickImage(idx v1.ImageIndex, layoutPath, digest, tag string) (v1.Image, v1.ImageIndex, error) {
	what := "OCI layout " + layoutPath
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s index: %w", what, err)
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
		return nil, nil, fmt.Errorf("%s has no manifest %s", what, digest)
	case len(picked) == 0 && tag != "":
		return nil, nil, fmt.Errorf("%s has no image tagged %q", what, tag)
	case len(picked) == 0:
		return nil, nil, fmt.Errorf("%s holds no image", what)
	case len(picked) > 1:
		return nil, nil, fmt.Errorf("%s holds %d images: name one as %s%s:TAG or %s%s@DIGEST", what, len(picked), OCILayoutPrefix, layoutPath, OCILayoutPrefix, layoutPath)
	}
	d := picked[0]
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("open index %s in %s: %w", d.Digest, what, err)
		}
		return thisPlatform(child, fmt.Sprintf("index %s in %s", d.Digest, what))
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("open image %s in %s: %w", d.Digest, what, err)
	}
	return img, idx, nil
}

// thisPlatform picks the linux image of this machine's architecture from an
// index; what names the index in errors.
func thisPlatform(idx v1.ImageIndex, what string) (v1.Image, v1.ImageIndex, error) {
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", what, err)
	}
	var platforms []string
	for _, m := range manifest.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue // attestation manifests
		}
		if m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
			img, err := idx.Image(m.Digest)
			if err != nil {
				return nil, nil, fmt.Errorf("open image %s of %s: %w", m.Digest, what, err)
			}
			return img, idx, nil
		}
		platforms = append(platforms, m.Platform.String()+" "+m.Digest.String())
	}
	return nil, nil, fmt.Errorf("%s has no linux/%s image; name one by digest: %s", what, runtime.GOARCH, strings.Join(platforms, ", "))
}
