package sbom

import (
	"io/fs"
	"testing"
	"time"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
)

// countedFile is a FileAPI that counts the stats asked of it.
type countedFile struct {
	path  string
	mode  fs.FileMode
	stats int
}

func (f *countedFile) Path() string { return f.path }

func (f *countedFile) Stat() (fs.FileInfo, error) {
	f.stats++
	return modeInfo{f.mode}, nil
}

type modeInfo struct{ mode fs.FileMode }

func (i modeInfo) Name() string       { return "" }
func (i modeInfo) Size() int64        { return 1 << 20 }
func (i modeInfo) Mode() fs.FileMode  { return i.mode }
func (i modeInfo) ModTime() time.Time { return time.Time{} }
func (i modeInfo) IsDir() bool        { return false }
func (i modeInfo) Sys() any           { return nil }

// TestCargoAuditGateAsksOnlyAboutExecutables: the cargo-auditable extractor
// is asked about executables only, and a file its name rules out is not
// stat'ed: most files of a root are documentation and package metadata.
func TestCargoAuditGateAsksOnlyAboutExecutables(t *testing.T) {
	ex, err := cargoauditable.New(&cpb.PluginConfig{})
	if err != nil {
		t.Fatal(err)
	}
	gate := cargoAuditGate{ex}
	for _, tc := range []struct {
		path      string
		mode      fs.FileMode
		want      bool
		wantStats bool
	}{
		{"usr/share/doc/tool/README.md", 0o755, false, false},
		{"app/node_modules/a/package.json", 0o755, false, false},
		{"usr/bin/tool", 0o755, true, true},
		{"usr/share/doc/tool/copyright", 0o644, false, true},
		{"usr/lib/libtool.so", 0o644, true, true},
	} {
		f := &countedFile{path: tc.path, mode: tc.mode}
		if got := gate.FileRequired(f); got != tc.want || (f.stats > 0) != tc.wantStats {
			t.Errorf("%s (%v): required %v after %d stats; want %v, stat'ed %v", tc.path, tc.mode, got, f.stats, tc.want, tc.wantStats)
		}
	}
}
