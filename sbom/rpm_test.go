package sbom

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	rpmdb "github.com/erikvarga/go-rpmdb/pkg"
	"golang.org/x/sys/unix"

	"github.com/secure-build/secure-build/internal/rpmdbtest"
)

// readOnlyView bind-mounts dir read-only, as BuildKit mounts the stage the
// scan step reads, and returns the mount.
func readOnlyView(t *testing.T, dir string) string {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("a read-only bind mount needs root on Linux")
	}
	view := t.TempDir()
	if err := unix.Mount(dir, view, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(view, unix.MNT_DETACH) })
	if err := unix.Mount("", view, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	return view
}

func TestRPMSqliteWALOnReadOnlyRoot(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=rocky\nVERSION_ID=9.3\n")
	if err := rpmdbtest.WriteWAL(filepath.Join(root, "var/lib/rpm"),
		rpmdbtest.Package{Name: "openssl-libs", Version: "3.0.7", Release: "24.el9", Arch: "x86_64"},
		rpmdbtest.Package{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	view := readOnlyView(t, root)
	s := mustCatalog(t, view)
	if len(s.Incomplete) != 0 {
		t.Errorf("incomplete: %q", s.Incomplete)
	}
	if len(findByName(s, "rpm", "openssl-libs")) != 1 || len(findByName(s, "rpm", "zlib")) != 1 {
		t.Fatalf("packages of the WAL-mode database on a read-only root: %q", purls(s))
	}
	// The copy is private and gone.
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "secure-build-rpmdb-*"))
	for _, m := range matches {
		for _, copied := range []string{"copy", "checked"} {
			if _, err := os.Stat(filepath.Join(m, copied, "var/lib/rpm/rpmdb.sqlite")); err == nil {
				t.Errorf("copy left behind: %s", m)
			}
		}
	}
}

func TestRPMSqliteCorrupt(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=rocky\nVERSION_ID=9.3\n")
	writeFile(t, root, "var/lib/rpm/rpmdb.sqlite", "SQLite format 3\x00"+strings.Repeat("\xff", 4096))
	s := mustCatalog(t, root)
	w := requireIncomplete(t, s, "/var/lib/rpm/rpmdb.sqlite")
	if strings.Contains(w, os.TempDir()+"/secure-build-rpmdb-") {
		t.Errorf("the incompleteness names the private copy: %s", w)
	}
}

// goRPMDBTestdata is go-rpmdb's folder of real rpm databases in the module
// cache: Berkeley DB (CentOS 5 to 8, big-endian s390x), NDB (SLE 15) and
// sqlite (Fedora 35, CBL-Mariner 2).
func goRPMDBTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/erikvarga/go-rpmdb").Output()
	if err != nil {
		t.Skipf("go list go-rpmdb: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
}

func rpmNEVRAs(t *testing.T, path string) []string {
	t.Helper()
	db, err := rpmdb.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	pkgs, err := db.ListPackages()
	if err != nil {
		t.Fatalf("list %s: %v", path, err)
	}
	var out []string
	for _, p := range pkgs {
		out = append(out, fmt.Sprintf("%d:%s-%s-%s.%s %s %s", p.EpochNum(), p.Name, p.Version, p.Release, p.Arch, p.SourceRpm, p.License))
	}
	return out
}

// TestRPMCheckedDatabaseReal: the checked database written from each of
// go-rpmdb's real databases lists the same packages, in the same order, as
// go-rpmdb reading the original.
func TestRPMCheckedDatabaseReal(t *testing.T) {
	testdata := goRPMDBTestdata(t)
	for _, name := range []string{
		"centos5-plain/Packages", "centos7-plain/Packages", "centos8-modularitylabel/Packages", "ubi8-s390x/Packages",
		"libuuid/Packages", "sle15-bci/Packages.db", "fedora35/rpmdb.sqlite", "cbl-mariner-2.0/rpmdb.sqlite",
	} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(testdata, name)
			info, err := os.Stat(src)
			if err != nil {
				t.Skip(err)
			}
			// sqlite writes beside a database it opens: read a copy.
			work := t.TempDir()
			copied := filepath.Join(work, filepath.Base(name))
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(copied, b, 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			want := rpmNEVRAs(t, copied)
			read := time.Since(start)
			checked := filepath.Join(work, "checked", "rpmdb.sqlite")
			start = time.Now()
			if err := writeCleanRPMDatabase(context.Background(), copied, checked, info.Size()); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d packages: go-rpmdb reads them in %v, the check writes them in %v", len(want), read, time.Since(start))
			if got := rpmNEVRAs(t, checked); !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("checked database lists %d packages, the original %d; first difference in %q", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " / " + b[i]
		}
	}
	return ""
}

// TestRPMDatabaseFormats: an rpm database in each format, at any of its
// names (go-rpmdb tells the format by content), is read through its checked
// copy.
func TestRPMDatabaseFormats(t *testing.T) {
	pkgs := []rpmdbtest.Package{
		{Name: "openssl-libs", Version: "3.0.7", Release: "24.el9", Arch: "x86_64"},
		{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"},
	}
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=rocky\nVERSION_ID=9.3\n")
	writeBytes(t, root, "var/lib/rpm/Packages", rpmdbtest.BDB(rpmdbtest.Headers(pkgs[0])...), 0o644)
	writeBytes(t, root, "usr/lib/sysimage/rpm/Packages.db", rpmdbtest.NDB(rpmdbtest.Headers(pkgs[1])...), 0o644)
	writeBytes(t, root, "usr/share/rpm/rpmdb.sqlite", rpmdbtest.NDB(rpmdbtest.Headers(pkgs...)...), 0o644)
	s := mustCatalog(t, root)
	if len(s.Incomplete) != 0 {
		t.Errorf("incomplete: %q", s.Incomplete)
	}
	for name, want := range map[string][]string{
		"openssl-libs": {"/usr/share/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages"},
		"zlib":         {"/usr/lib/sysimage/rpm/Packages.db", "/usr/share/rpm/rpmdb.sqlite"},
	} {
		got := findByName(s, "rpm", name)
		if len(got) != 1 {
			t.Fatalf("%s: %d packages, want 1: %q", name, len(got), purls(s))
		}
		if locs := slices.Sorted(slices.Values(got[0].Locations)); !slices.Equal(locs, want) {
			t.Errorf("%s locations %q, want %q", name, locs, want)
		}
	}
}
