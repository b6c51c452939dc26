package rpmdbtest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"
)

// TestGoRPMDBReadsTheDatabases: go-rpmdb, which osv-scalibr reads rpm
// databases with, reads every format written here.
func TestGoRPMDBReadsTheDatabases(t *testing.T) {
	pkgs := []Package{
		{Name: "openssl-libs", Version: "3.0.7", Release: "24.el9", Arch: "x86_64"},
		{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"},
	}
	// A header of more than one overflow page.
	big := Package{Name: "big", Version: "1", Release: "1", Arch: "noarch"}
	for len(Header(big)) < 3*BDBPageSize {
		big.Release += "x"
	}
	pkgs = append(pkgs, big)
	dir := t.TempDir()
	if err := WriteWAL(filepath.Join(dir, "sqlite"), pkgs...); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ndb/Packages.db": NDB(Headers(pkgs...)...), "bdb/Packages": BDB(Headers(pkgs...)...)} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"sqlite/rpmdb.sqlite", "ndb/Packages.db", "bdb/Packages"} {
		t.Run(name, func(t *testing.T) {
			db, err := rpmdb.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			got, err := db.ListPackages()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.Name+"-"+p.Version+"-"+p.Release+"."+p.Arch+" "+p.License)
			}
			var want []string
			for _, p := range pkgs {
				want = append(want, p.Name+"-"+p.Version+"-"+p.Release+"."+p.Arch+" MIT")
			}
			if !slices.Equal(names, want) {
				t.Errorf("packages %q, want %q", names, want)
			}
		})
	}
}
