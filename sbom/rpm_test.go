package sbom

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

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
		if _, err := os.Stat(filepath.Join(m, "var/lib/rpm/rpmdb.sqlite")); err == nil {
			t.Errorf("copy left behind: %s", m)
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
