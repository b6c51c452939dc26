package sbom

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
)

// Target prefixes for images; anything else is a directory.
const (
	OCILayoutPrefix     = "oci-layout:"
	DockerArchivePrefix = "docker-archive:"
)

// CatalogTarget catalogs what target names: a directory holding a root
// filesystem, "oci-layout:PATH[:TAG|@DIGEST]", "docker-archive:FILE" or
// "registry:REF"; or reads the packages of an SPDX document, "sbom:FILE".
// An image's layers are applied in order, whiteouts honoured, into a
// temporary folder that is removed before it returns.
func CatalogTarget(ctx context.Context, target string) (*SBOM, error) {
	var img v1.Image
	var err error
	switch {
	case strings.HasPrefix(target, OCILayoutPrefix):
		img, err = openOCILayout(strings.TrimPrefix(target, OCILayoutPrefix))
	case strings.HasPrefix(target, SBOMPrefix):
		return ReadSPDX(strings.TrimPrefix(target, SBOMPrefix))
	case strings.HasPrefix(target, RegistryPrefix):
		img, err = openRegistryImage(ctx, strings.TrimPrefix(target, RegistryPrefix))
	case strings.HasPrefix(target, DockerArchivePrefix):
		file := strings.TrimPrefix(target, DockerArchivePrefix)
		img, err = tarball.ImageFromPath(file, nil)
		if err != nil {
			err = fmt.Errorf("open docker archive %s: %w", file, err)
		}
	default:
		return Catalog(ctx, target, target)
	}
	if err != nil {
		return nil, err
	}
	return CatalogImage(ctx, img, target)
}

// CatalogImage catalogs an image's flattened filesystem; source names it in
// the SBOM and in errors.
func CatalogImage(ctx context.Context, img v1.Image, source string) (*SBOM, error) {
	extractors, err := newExtractors()
	if err != nil {
		return nil, err
	}
	dir, err := makeUnpackDir()
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", source, err)
	}
	defer os.RemoveAll(dir)
	if err := unpackImage(ctx, img, dir, wantedBy(extractors)); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", source, err)
	}
	return catalogWith(ctx, dir, source, extractors)
}

// makeUnpackDir makes the folder an image is unpacked into: in $TMPDIR when
// set, else in /dev/shm where there is one. The unpack holds only what the
// extractors read (package databases, manifests, Go and Rust binaries) with
// its symlinks and folders, and making those on a disk costs more than
// reading the whole image.
func makeUnpackDir() (string, error) {
	if os.Getenv("TMPDIR") == "" && runtime.GOOS == "linux" {
		if dir, err := os.MkdirTemp("/dev/shm", "secure-build-rootfs-"); err == nil {
			return dir, nil
		}
	}
	return os.MkdirTemp("", "secure-build-rootfs-")
}

// want is what to do with a file of an image.
type want int

const (
	skip want = iota
	write
	// writeIfBinary is for files only the Go and Rust binary extractors
	// want: most executables are neither, and are not written.
	writeIfBinary
)

// wantedBy says which files of an image to write out: those an extractor
// would read, and the files they read beside them (the distribution's
// os-release, an rpmdb's companions). Folders are made as the parents of
// what is written, and every symlink is made, so paths resolve as in the
// image; the rest of the content is never written, which is most of the time
// an unpack would take.
func wantedBy(extractors []filesystem.Extractor) func(*tar.Header) want {
	return func(hdr *tar.Header) want {
		if hdr.Typeflag == tar.TypeDir {
			return skip
		}
		rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		switch {
		case rel == "etc/os-release" || rel == "usr/lib/os-release",
			strings.HasPrefix(rel, "var/lib/rpm/"), strings.HasPrefix(rel, "usr/lib/sysimage/rpm/"):
			return write
		}
		api := &tarFileAPI{path: rel, info: hdr.FileInfo()}
		w := skip
		for _, ex := range extractors {
			if !ex.FileRequired(api) {
				continue
			}
			if ex.Name() != gobinary.Name && ex.Name() != cargoauditable.Name {
				return write
			}
			w = writeIfBinary
		}
		return w
	}
}

// maxBinaryCheck bounds the executable read into memory to see whether it
// is a Go or Rust binary; a larger one is written out unchecked.
const maxBinaryCheck = 256 << 20

// binaryOfInterest says whether an executable may hold Go build info or
// cargo-auditable data (see mayHoldPackages).
func binaryOfInterest(data []byte) bool {
	return mayHoldPackages(bytes.NewReader(data))
}

// tarFileAPI shows a tar entry to an extractor's FileRequired.
type tarFileAPI struct {
	path string
	info fs.FileInfo
}

func (t *tarFileAPI) Path() string               { return t.path }
func (t *tarFileAPI) Stat() (fs.FileInfo, error) { return t.info, nil }

// openOCILayout opens PATH, PATH:TAG or PATH@DIGEST. Without a tag or digest
// the layout must hold one image (or one index, from which the image for this
// machine's architecture is taken).
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
		return imageForThisPlatform(child, fmt.Sprintf("index %s in OCI layout %s", d.Digest, dir))
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("open image %s in OCI layout %s: %w", d.Digest, dir, err)
	}
	return img, nil
}

// imageForThisPlatform picks the linux image of this machine's architecture
// from an index; what names the index in errors.
func imageForThisPlatform(idx v1.ImageIndex, what string) (v1.Image, error) {
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

// unpackImage writes the image's flattened filesystem under dir. Names are
// confined to dir, symlinks are written as they are (rootFS resolves them
// inside the root later) and never followed while writing, and devices and
// fifos are not created.
func unpackImage(ctx context.Context, img v1.Image, dir string, wanted func(*tar.Header) want) error {
	var binary bytes.Buffer // reused: most executables are read only to be checked
	var links []*tar.Header
	err := flatten(ctx, img, func(hdr *tar.Header, tr io.Reader) error {
		var content = tr
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeReg, tar.TypeLink:
			switch wanted(hdr) {
			case skip:
				return nil
			case writeIfBinary:
				if hdr.Typeflag == tar.TypeReg && hdr.Size <= maxBinaryCheck {
					binary.Reset()
					if _, err := binary.ReadFrom(io.LimitReader(tr, hdr.Size)); err != nil {
						return err
					}
					if !binaryOfInterest(binary.Bytes()) {
						return nil
					}
					content = bytes.NewReader(binary.Bytes())
				}
			}
		}
		if hdr.Typeflag == tar.TypeLink {
			// Upper layers come first: a hard link's target may come later.
			links = append(links, hdr)
			return nil
		}
		return unpackEntry(content, hdr, dir)
	})
	if err != nil {
		return err
	}
	for _, hdr := range links {
		// A link whose target was whited out (or never shipped) is left out:
		// it has no content of its own.
		_ = unpackEntry(nil, hdr, dir)
	}
	return nil
}

// Whiteout names, as the OCI image spec defines them.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// flatten hands fn each entry of the image's filesystem as its layers,
// applied in order, leave it: layers are read top first, and an entry is
// passed only if no higher layer has the same path, a non-folder above it
// in the path, a whiteout of it, or an opaque whiteout of a folder above it.
// Reading the layers directly, rather than through mutate.Extract's piped
// tar, spares copying every byte of the image twice. The first error of a
// layer or of fn stops it, naming the entry.
func flatten(ctx context.Context, img v1.Image, fn func(*tar.Header, io.Reader) error) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("read layers: %w", err)
	}
	// hidden[p] is true when lower layers must not show p or anything
	// below it: a non-folder or a whiteout was seen there. A folder seen in
	// a higher layer maps to false: only that same path is taken.
	hidden := map[string]bool{}
	opaque := map[string]bool{}
	for i := len(layers) - 1; i >= 0; i-- {
		rc, err := layers[i].Uncompressed()
		if err != nil {
			return fmt.Errorf("read layer %d: %w", i, err)
		}
		layerOpaque := map[string]bool{}
		err = flattenLayer(ctx, tar.NewReader(rc), hidden, opaque, layerOpaque, fn)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		for d := range layerOpaque {
			opaque[d] = true
		}
	}
	return nil
}

func flattenLayer(ctx context.Context, tr *tar.Reader, hidden, opaque, layerOpaque map[string]bool, fn func(*tar.Header, io.Reader) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if slices.Contains(strings.Split(hdr.Name, "/"), "..") {
			// A layer tool never writes one: the layer is hostile or broken.
			return fmt.Errorf("entry %q climbs out of the root", hdr.Name)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" || climbingLink(name, hdr) {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if base == whiteoutOpaque {
			layerOpaque[dir] = true
			continue
		}
		tombstone := strings.HasPrefix(base, whiteoutPrefix)
		if tombstone {
			name = path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))
		}
		if _, seen := hidden[name]; seen || underHidden(name, hidden, opaque) {
			continue
		}
		hidden[name] = tombstone || hdr.Typeflag != tar.TypeDir
		if tombstone {
			continue
		}
		if err := fn(hdr, tr); err != nil {
			return fmt.Errorf("unpack %s: %w", hdr.Name, err)
		}
	}
}

// climbingLink says whether a relative link points above the root from
// where it stands. rootFS would keep it inside anyway; like
// go-containerregistry's mutate.Extract, such links are dropped.
func climbingLink(name string, hdr *tar.Header) bool {
	if hdr.Typeflag != tar.TypeSymlink && hdr.Typeflag != tar.TypeLink || path.IsAbs(hdr.Linkname) {
		return false
	}
	resolved := path.Clean(path.Join(path.Dir(name), hdr.Linkname))
	return resolved == ".." || strings.HasPrefix(resolved, "../")
}

// underHidden says whether a folder above name was replaced or whited out by
// a higher layer, or made opaque by one.
func underHidden(name string, hidden, opaque map[string]bool) bool {
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		if hidden[d] || opaque[d] {
			return true
		}
	}
	return opaque[""]
}

func unpackEntry(content io.Reader, hdr *tar.Header, dir string) error {
	name := path.Clean("/" + hdr.Name)
	if name == "/" {
		return nil
	}
	parent, err := securejoin.SecureJoin(dir, path.Dir(name))
	if err != nil {
		return err
	}
	target := filepath.Join(parent, path.Base(name))
	switch hdr.Typeflag {
	case tar.TypeDir:
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			return nil
		}
		os.Remove(target)
		return os.MkdirAll(target, 0o755)
	case tar.TypeReg:
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		os.Remove(target)
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|openNoFollow, os.FileMode(hdr.Mode)&0o777|0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		os.Remove(target)
		return os.Symlink(hdr.Linkname, target)
	case tar.TypeLink:
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		src, err := securejoin.SecureJoin(dir, path.Clean("/"+hdr.Linkname))
		if err != nil {
			return err
		}
		os.Remove(target)
		return os.Link(src, target)
	}
	// Devices, fifos and the like hold no package data and are never made.
	return nil
}
