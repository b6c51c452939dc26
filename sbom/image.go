package sbom

import (
	"context"
	"io"
	"io/fs"
	"path"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
)

// CatalogImage catalogs an image's flattened filesystem; source names it in
// the SBOM and in errors, the SBOM's Image holds its digest and platform
// (the caller that knows its repository and tag adds them). The layers are applied into a folder of the OS's
// temporary folder, not /dev/shm: only the files the extractors read are
// written, but those (Go binaries, jars) can take gigabytes, which on a
// tmpfs would be memory; the unpack is bounded by maxUnpackBytes.
func CatalogImage(ctx context.Context, img v1.Image, source string) (*SBOM, error) {
	s, _, err := unpackAndCatalog(ctx, img, source, false, maxUnpackBytes)
	return s, err
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
