package sbom

import (
	"os"
	"path/filepath"
	"testing"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"

	"github.com/secure-build/secure-build/internal/rpmdbtest"
)

// FuzzRPMHeaderCheck feeds checkRPMHeader arbitrary header blobs; its seeds
// are in testdata/fuzz. It must not panic, and a header it accepts must be
// read by go-rpmdb without a panic or an error: an error would leave
// go-rpmdb's reader goroutine blocked.
func FuzzRPMHeaderCheck(f *testing.F) {
	f.Add(rpmdbtest.Header(rpmdbtest.Package{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"}))
	f.Fuzz(func(t *testing.T, blob []byte) {
		if checkRPMHeader(blob) != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "Packages.db")
		if err := os.WriteFile(path, rpmdbtest.NDB(blob), 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := rpmdb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("go-rpmdb panicked on a header the check accepts: %v", p)
			}
		}()
		if _, err := db.ListPackages(); err != nil {
			t.Fatalf("go-rpmdb refused a header the check accepts: %v", err)
		}
	})
}
