package sbom

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
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
// deep and inflate to at most maxArchiveBytes in all; a metadata file (a
// package.json, a METADATA, a status file) larger than maxMetadataFileSize
// is not a package record.
const (
	maxArchiveDepth     = 8
	maxArchiveBytes     = 1 << 30
	maxMetadataFileSize = 64 << 20
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
		case packagejson.Name:
			ex = withLicenses{Extractor: ex, parse: npmLicenses}
		case packagelockjson.Name:
			ex = installedLockfile{ex}
		case wheelegg.Name:
			ex = withLicenses{Extractor: ex, parse: pythonLicenses, only: isPythonMetadataFile}
		}
		out = append(out, ex)
	}
	return append(out, composerInstalled{}), nil
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
// a whole license text under License.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}
