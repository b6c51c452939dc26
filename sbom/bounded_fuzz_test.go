//go:build unix

package sbom

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/buildinfo"
	"io/fs"
	"testing"
	"time"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
)

// The fuzz targets below feed the bounded readers of nested archives and
// executables arbitrary bytes; their seeds are in testdata/fuzz. Each must
// end without a panic and within its bounds.

func FuzzJavaArchiveCheck(f *testing.F) {
	f.Add(zipFiles(f, pomProperties("org.example", "a", "1.0"), zipEntry{"lib/b.jar", zipFiles(f, pomProperties("org.example", "b", "1.0"))}))
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		limit := inflateBudget(int64(len(data)))
		check := archiveCheck{ctx: context.Background(), limit: limit, left: limit}
		check.zip(zr, "", 1)
		if check.left > limit {
			t.Fatalf("left %d of a budget of %d", check.left, limit)
		}
	})
}

func FuzzZippedPython(f *testing.F) {
	f.Add(zipFiles(f, zipEntry{"a-1.0.dist-info/METADATA", []byte(pythonMetadata("a", "1.0"))}))
	ex, err := wheelegg.New(&cpb.PluginConfig{})
	if err != nil {
		f.Fatal(err)
	}
	z := zippedPython{withLicenses{Extractor: ex, parse: pythonLicenses, only: isPythonMetadataFile}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		in := &filesystem.ScanInput{Path: "a-1.0-py3-none-any.whl", Reader: bytes.NewReader(data), Info: fileSize(len(data))}
		inv, _ := z.Extract(ctx, in)
		for _, p := range inv.Packages {
			if p.Location.PathOrEmpty() != in.Path {
				t.Errorf("package %s located at %q, not the wheel", p.Name, p.Location.PathOrEmpty())
			}
		}
	})
}

func FuzzRustDepSection(f *testing.F) {
	f.Add(elfWithSection(f, ".dep-v0", []byte("x\x9c\x03\x00\x00\x00\x00\x01")))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x0c\x07.dep-v0abcd"))
	f.Fuzz(func(t *testing.T, data []byte) {
		section, _ := rustDepSection(bytes.NewReader(data), int64(len(data)))
		if len(section) > maxRustDepSection {
			t.Fatalf("section of %d bytes, more than %d", len(section), maxRustDepSection)
		}
	})
}

// FuzzMayHoldGoBuildInfo: whatever the gate skips, debug/buildinfo finds
// nothing in.
func FuzzMayHoldGoBuildInfo(f *testing.F) {
	f.Add(elfWithSection(f, ".go.buildinfo", append([]byte("\xff Go buildinf:"), make([]byte, 32)...)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if mayHoldGoBuildInfo(bytes.NewReader(data)) {
			return
		}
		if _, err := buildinfo.Read(bytes.NewReader(data)); err == nil {
			t.Fatal("the gate skips a file debug/buildinfo reads")
		}
	})
}

// fileSize is the FileInfo of a file of that many bytes.
type fileSize int64

func (s fileSize) Name() string       { return "file" }
func (s fileSize) Size() int64        { return int64(s) }
func (s fileSize) Mode() fs.FileMode  { return 0o644 }
func (s fileSize) ModTime() time.Time { return time.Time{} }
func (s fileSize) IsDir() bool        { return false }
func (s fileSize) Sys() any           { return nil }
