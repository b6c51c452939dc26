package sbom

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

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
// the SBOM and in errors. The layers are applied into a folder of the OS's
// temporary folder, not /dev/shm: only the files the extractors read are
// written, but those (Go binaries, jars) can take gigabytes, which on a
// tmpfs would be memory; the unpack is bounded by maxUnpackBytes.
func CatalogImage(ctx context.Context, img v1.Image, source string) (*SBOM, error) {
	extractors, err := newExtractors()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "secure-build-image-")
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", source, err)
	}
	defer os.RemoveAll(dir)
	gaps, err := unpackImage(ctx, img, dir, wantedBy(extractors), maxUnpackBytes)
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", source, err)
	}
	s, err := catalogWith(ctx, filepath.Join(dir, "root"), source, extractors)
	if err != nil {
		return nil, err
	}
	s.Incomplete = SortGaps(append(s.Incomplete, gaps...))
	return s, nil
}

// want is what to do with a file of an image; a file with several names
// takes the most any of them wants.
type want int

const (
	skip want = iota
	// writeIfBinary is for files only the Go and Rust binary extractors
	// want: most executables are neither, and are not kept.
	writeIfBinary
	write
)

// wantedBy says which files of an image to write out, and the most each
// may take: those an extractor would read, and the files they read beside
// them (the distribution's os-release, an rpmdb's companions). A metadata
// file is bounded as the catalog bounds it; a binary, an archive or an rpm
// database by maxUnpackedFileSize.
func wantedBy(extractors []filesystem.Extractor) func(string, fs.FileInfo) (want, int64) {
	return func(rel string, info fs.FileInfo) (want, int64) {
		switch {
		case rel == "etc/os-release" || rel == "usr/lib/os-release":
			return write, maxMetadataFileSize
		case slices.Contains(rpmDatabaseDirs, path.Dir(rel)):
			return write, maxUnpackedFileSize
		}
		api := &tarFileAPI{path: rel, info: info}
		w, limit := skip, int64(0)
		for _, ex := range extractors {
			if !ex.FileRequired(api) {
				continue
			}
			if b, ok := ex.(boundedMetadata); ok && (b.only == nil || b.only(rel)) {
				limit = max(limit, maxMetadataFileSize)
			} else {
				limit = max(limit, maxUnpackedFileSize)
			}
			if ex.Name() != gobinary.Name && ex.Name() != cargoauditable.Name {
				w = write
			} else {
				w = max(w, writeIfBinary)
			}
		}
		return w, limit
	}
}

// binaryOfInterest says whether an executable may hold Go build info or
// cargo-auditable data (see mayHoldPackages).
func binaryOfInterest(ra io.ReaderAt) bool {
	return mayHoldPackages(ra)
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
