package sbom

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// rpmHeader encodes an rpm header blob, as rpm stores one a package in its
// database, with string tags only: name, version, release, arch, source rpm
// and license.
func rpmHeader(name, version, release string) []byte {
	tags := []struct {
		tag   int32
		value string
	}{
		{1000, name}, {1001, version}, {1002, release}, {1014, "MIT"}, {1022, "x86_64"},
		{1044, name + "-" + version + "-" + release + ".src.rpm"},
	}
	var index, data bytes.Buffer
	for _, t := range tags {
		// Tag, type (6: a string), offset into the data, count.
		for _, v := range []uint32{uint32(t.tag), 6, uint32(data.Len()), 1} {
			binary.Write(&index, binary.BigEndian, v)
		}
		data.WriteString(t.value)
		data.WriteByte(0)
	}
	var out bytes.Buffer
	binary.Write(&out, binary.BigEndian, int32(len(tags)))
	binary.Write(&out, binary.BigEndian, int32(data.Len()))
	out.Write(index.Bytes())
	out.Write(data.Bytes())
	return out.Bytes()
}

// writeWALRPMDB writes var/lib/rpm/rpmdb.sqlite into root as a running rpm
// leaves it: in WAL mode, its packages still in the -wal file, not yet
// checkpointed into the database file.
func writeWALRPMDB(t *testing.T, root string, pkgs ...[3]string) {
	t.Helper()
	work := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(work, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"PRAGMA journal_mode=WAL",
		"PRAGMA wal_autocheckpoint=0",
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, p := range pkgs {
		if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?)", rpmHeader(p[0], p[1], p[2])); err != nil {
			t.Fatal(err)
		}
	}
	// Copied while the connection is open: closing it would checkpoint.
	for _, name := range []string{"rpmdb.sqlite", "rpmdb.sqlite-wal"} {
		b, err := os.ReadFile(filepath.Join(work, name))
		if err != nil {
			t.Fatal(err)
		}
		writeBytes(t, root, "var/lib/rpm/"+name, b, 0o644)
	}
	if fi, err := os.Stat(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("test setup: no write-ahead log: %v", err)
	}
}

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
	writeWALRPMDB(t, root, [3]string{"openssl-libs", "3.0.7", "24.el9"}, [3]string{"zlib", "1.2.11", "40.el9"})
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
