package sbom

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/dotnet/depsjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	javaarchive "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	"github.com/google/osv-scalibr/inventory"
)

// Bounds on what one file may cost. Archives nest at most maxArchiveDepth
// deep and inflate to at most inflateBudget of their size, never more than
// maxArchiveBytes; a metadata file (a package.json, a METADATA, a status
// file) larger than maxMetadataFileSize is not a package record.
const (
	maxArchiveDepth     = 8
	maxArchiveBytes     = 1 << 30
	maxMetadataFileSize = 64 << 20
	// An archive holds at most maxArchiveEntries entries; a manifest or a
	// pom.properties in it inflates to at most maxArchiveMetadataSize; a
	// deflated archive nested in it is at most maxNestedArchiveRatio times
	// larger inflated than compressed (a jar is compressed already).
	maxArchiveEntries      = 1 << 18
	maxArchiveMetadataSize = 4 << 20
	maxNestedArchiveRatio  = 50
)

// newExtractors returns osv-scalibr's extractors for the ecosystems the
// product supports, configured with our bounds, plus the composer reader
// osv-scalibr lacks.
func newExtractors() ([]filesystem.Extractor, error) {
	cfg := &cpb.PluginConfig{
		PluginSpecific: []*cpb.PluginSpecificConfig{{
			Config: &cpb.PluginSpecificConfig_JavaArchive{JavaArchive: &cpb.JavaArchiveConfig{
				MaxZipDepth:    maxArchiveDepth,
				MaxOpenedBytes: maxArchiveBytes,
			}},
		}},
	}
	type constructor func(*cpb.PluginConfig) (filesystem.Extractor, error)
	constructors := []struct {
		name string
		new  constructor
	}{
		{dpkg.Name, dpkg.New},
		{apk.Name, apk.New},
		{rpm.Name, rpm.New},
		{gobinary.Name, gobinary.New},
		{cargoauditable.Name, cargoauditable.New},
		{packagejson.Name, packagejson.New},
		{packagelockjson.Name, packagelockjson.New},
		{wheelegg.Name, wheelegg.New},
		{javaarchive.Name, javaarchive.New},
		{gemspec.Name, gemspec.New},
		{depsjson.Name, depsjson.New},
	}
	var out []filesystem.Extractor
	for _, c := range constructors {
		ex, err := c.new(cfg)
		if err != nil {
			return nil, fmt.Errorf("set up extractor %s: %w", c.name, err)
		}
		switch c.name {
		case gobinary.Name:
			ex = goBinaryGate{ex}
		case cargoauditable.Name:
			ex = cargoAuditGate{ex}
		case javaarchive.Name:
			ex = javaArchiveGate{javaManifestFallback{ex}}
		case rpm.Name:
			ex = rpmDatabase{ex}
		case dpkg.Name:
			ex = boundedMetadata{Extractor: dpkgStatusFile{ex}}
		case apk.Name:
			ex = boundedMetadata{Extractor: apkInstalledFile{ex}}
		case gemspec.Name, depsjson.Name:
			ex = boundedMetadata{Extractor: ex}
		case packagejson.Name:
			ex = boundedMetadata{Extractor: installedNodeModule{withLicenses{Extractor: ex, parse: npmLicenses}}}
		case packagelockjson.Name:
			ex = boundedMetadata{Extractor: installedLockfile{ex}}
		case wheelegg.Name:
			ex = boundedMetadata{Extractor: zippedPython{withLicenses{Extractor: ex, parse: pythonLicenses, only: isPythonMetadataFile}}, only: isPythonMetadataFile}
		}
		out = append(out, ex)
	}
	return append(out, boundedMetadata{Extractor: composerInstalled{}}), nil
}

// boundedMetadata refuses a metadata file larger than maxMetadataFileSize
// with an error, which the walk reports as a warning naming the file.
// osv-scalibr's extractors skip a file over their own size limits silently
// (100 MiB for a dpkg status: every OS package gone without a word), so the
// wrapped extractor is asked about a file's name only, never its size.
type boundedMetadata struct {
	filesystem.Extractor
	// only, when set, says which files are metadata; the others (a zipped
	// .egg, which zippedPython bounds) pass through.
	only func(string) bool
}

func (b boundedMetadata) FileRequired(api filesystem.FileAPI) bool {
	return b.Extractor.FileRequired(sizelessFile{api})
}

func (b boundedMetadata) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	if in.Info != nil && in.Info.Size() > maxMetadataFileSize && (b.only == nil || b.only(in.Path)) {
		return inventory.Inventory{}, fmt.Errorf("read %s: larger than %d bytes", slashPath(in.Path), maxMetadataFileSize)
	}
	return b.Extractor.Extract(ctx, in)
}

// sizelessFile shows a file to FileRequired with its size hidden.
type sizelessFile struct{ filesystem.FileAPI }

func (f sizelessFile) Stat() (fs.FileInfo, error) {
	fi, err := f.FileAPI.Stat()
	if err != nil {
		return nil, err
	}
	return sizelessInfo{fi}, nil
}

type sizelessInfo struct{ fs.FileInfo }

func (sizelessInfo) Size() int64 { return 0 }

// javaArchiveGate reads the directory of a Java archive, and of the archives
// nested in it, before osv-scalibr's extractor does, and refuses an archive
// that would make it inflate too much. osv-scalibr bounds the nesting depth
// and the bytes of nested archives, but reads manifests and pom.properties of
// any size, holding a manifest in memory whole: a 1 MB jar made it hold
// gigabytes. It also reads each nested archive into memory whole, so a file
// that nests archives takes its share of archiveMemory while it is read.
type javaArchiveGate struct {
	filesystem.Extractor
}

func (g javaArchiveGate) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	ra, ok := in.Reader.(io.ReaderAt)
	if !ok || in.Info == nil {
		return g.Extractor.Extract(ctx, in)
	}
	zr, err := zip.NewReader(ra, in.Info.Size())
	if err != nil {
		return g.Extractor.Extract(ctx, in) // it says what is wrong with the file
	}
	budget := inflateBudget(in.Info.Size())
	if slices.ContainsFunc(zr.File, func(f *zip.File) bool { return javaarchive.IsArchive(f.Name) }) {
		hold := int64(min(2*budget, maxArchiveMemory))
		if err := archiveMemory.acquire(ctx, hold); err != nil {
			return inventory.Inventory{}, err
		}
		defer archiveMemory.release(hold)
	}
	check := archiveCheck{ctx: ctx, limit: budget, left: budget, memory: uint64(min(2*budget, maxArchiveMemory))}
	if err := check.zip(zr, "", 1); err != nil {
		return inventory.Inventory{}, fmt.Errorf("%s: %w", slashPath(in.Path), err)
	}
	return g.Extractor.Extract(ctx, in)
}

// archiveCheck checks one Java archive and those nested in it against the
// bounds, taking what osv-scalibr would inflate from left, out of limit.
type archiveCheck struct {
	ctx         context.Context
	limit, left uint64
	// memory is what the nested archives inflated into memory at once may
	// take: the share of archiveMemory the file holds.
	memory uint64
}

// zip checks an archive at nesting depth (1 for the file itself); prefix
// names it inside the file. A nested archive that cannot be read passes:
// the extractor says what is wrong with it.
func (c *archiveCheck) zip(zr *zip.Reader, prefix string, depth int) error {
	if len(zr.File) > maxArchiveEntries {
		return fmt.Errorf("%sholds %d entries, more than %d", prefix, len(zr.File), maxArchiveEntries)
	}
	for _, f := range zr.File {
		base := strings.ToLower(path.Base(f.Name))
		metadata := base == "manifest.mf" || base == "pom.properties"
		nested := javaarchive.IsArchive(f.Name) && depth < maxArchiveDepth
		switch {
		case !metadata && !nested:
			continue
		case metadata && f.UncompressedSize64 > maxArchiveMetadataSize:
			return fmt.Errorf("%s%s inflates to %d bytes, more than %d", prefix, f.Name, f.UncompressedSize64, maxArchiveMetadataSize)
		case f.UncompressedSize64 > c.left:
			return fmt.Errorf("%s%s: the archive inflates to more than %d bytes", prefix, f.Name, c.limit)
		case nested && f.Method != zip.Store && f.UncompressedSize64 > maxNestedArchiveRatio*f.CompressedSize64+1<<20:
			return fmt.Errorf("%s%s inflates %d bytes to %d: a zip bomb", prefix, f.Name, f.CompressedSize64, f.UncompressedSize64)
		}
		c.left -= f.UncompressedSize64
		if !nested {
			continue
		}
		if err := c.ctx.Err(); err != nil {
			return err
		}
		// An inflated archive is held while those nested in it are
		// checked; archive/zip refuses one that inflates past its declared
		// size, so that size bounds what it takes.
		var held uint64
		if f.Method != zip.Store {
			if f.UncompressedSize64 > c.memory {
				return fmt.Errorf("%s%s inflates to %d bytes, more than the %d bytes of memory left for nested archives", prefix, f.Name, f.UncompressedSize64, c.memory)
			}
			held = f.UncompressedSize64
			c.memory -= held
		}
		sub, err := openNested(f)
		if err == nil {
			err = c.zip(sub, prefix+f.Name+"/", depth+1)
		} else {
			err = nil // the extractor says what is wrong with it
		}
		c.memory += held
		if err != nil {
			return err
		}
	}
	return nil
}

// openNested opens the directory of an archive nested in another: in place
// when stored, else inflated into memory as its bytes arrive. Its declared
// size is checked against the budget, never allocated: archive/zip fails an
// entry that inflates to more or fewer bytes than it declares.
func openNested(f *zip.File) (*zip.Reader, error) {
	if f.Method == zip.Store {
		rc, err := f.OpenRaw()
		if err != nil {
			return nil, err
		}
		if sr, ok := rc.(*io.SectionReader); ok {
			return zip.NewReader(sr, sr.Size())
		}
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := readAllBounded(rc, f.Name, int64(f.UncompressedSize64))
	if err != nil {
		return nil, err
	}
	return zip.NewReader(bytes.NewReader(b), int64(len(b)))
}

// withLicenses reads a small metadata file once, hands it to the wrapped
// extractor and takes the license it records, which osv-scalibr drops.
type withLicenses struct {
	filesystem.Extractor
	parse func([]byte) []string
	// only, when set, says which of the wrapped extractor's files hold text
	// to read; the others (a zipped .egg) pass through untouched.
	only func(string) bool
}

func (w withLicenses) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	if w.only != nil && !w.only(in.Path) {
		return w.Extractor.Extract(ctx, in)
	}
	data, err := readBounded(in.Reader, slashPath(in.Path), maxMetadataFileSize)
	if err != nil {
		return inventory.Inventory{}, err
	}
	copyIn := *in
	copyIn.Reader = bytes.NewReader(data)
	inv, err := w.Extractor.Extract(ctx, &copyIn)
	if licenses := w.parse(data); len(licenses) > 0 {
		for _, p := range inv.Packages {
			if len(p.Licenses) == 0 {
				p.Licenses = licenses
			}
		}
	}
	return inv, err
}

func isPythonMetadataFile(p string) bool {
	base := path.Base(p)
	return base == "METADATA" || base == "PKG-INFO"
}

// installedLockfile reads an npm lockfile only where the project it locks was
// installed (a node_modules folder beside it). Debian's Node packages ship
// the lockfiles of their upstream projects; the packages those list are not
// in the image.
type installedLockfile struct {
	filesystem.Extractor
}

func (l installedLockfile) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	fi, err := fs.Stat(in.FS, path.Join(path.Dir(in.Path), "node_modules"))
	if err != nil || !fi.IsDir() {
		return inventory.Inventory{}, nil
	}
	return l.Extractor.Extract(ctx, in)
}

// firstLine trims a header value to its first line: some METADATA files put
// a whole license text under License. A lone CR ends a line too, as Python's
// own metadata parser has it.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
