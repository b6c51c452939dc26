package vuln

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
)

// TestExpand: a database sent compressed opens, expanded, to the same
// findings as the database it was made of, and the same file always
// compresses to the same bytes; a folder of archive files is opened where
// it is; a damaged or oversized compressed archive is a CorruptError
// naming it, and leaves nothing behind.
func TestExpand(t *testing.T) {
	db := testDB(t)
	sent := t.TempDir()
	for _, a := range db.Archives() {
		data, err := CompressArchive(filepath.Join(db.dir, a+dbFileSuffix))
		if err != nil {
			t.Fatal(err)
		}
		again, err := CompressArchive(filepath.Join(db.dir, a+dbFileSuffix))
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("%s compressed twice differs (%v)", a, err)
		}
		if err := os.WriteFile(filepath.Join(sent, CompressedName(a)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	into := t.TempDir()
	dir, err := Expand(sent, into)
	if err != nil || dir != into {
		t.Fatalf("Expand: %q, %v; want %q", dir, err, into)
	}
	expanded, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer expanded.Close()
	p := pkg("minimist", "1.2.5", "pkg:npm/minimist@1.2.5")
	if got, want := ids(matchOne(t, expanded, p)), ids(matchOne(t, db, p)); len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("expanded database finds %v for minimist 1.2.5, the original %v", got, want)
	}

	// Archive files as they are: opened where they are.
	if dir, err := Expand(db.dir, t.TempDir()); err != nil || dir != db.dir {
		t.Errorf("Expand of a folder of archive files: %q, %v; want %q", dir, err, db.dir)
	}

	// Both forms in one folder: refused.
	mixed := t.TempDir()
	writeFile(t, filepath.Join(mixed, "npm.db"), []byte("x"))
	writeFile(t, filepath.Join(mixed, CompressedName("Debian")), []byte("x"))
	if _, err := Expand(mixed, t.TempDir()); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("a folder of both forms: %v", err)
	}

	// Not S2 at all.
	damaged := t.TempDir()
	writeFile(t, filepath.Join(damaged, CompressedName("npm")), []byte("not s2"))
	out := t.TempDir()
	var corrupt *CorruptError
	if _, err := Expand(damaged, out); !errors.As(err, &corrupt) || corrupt.Archive != "npm" {
		t.Errorf("a damaged compressed archive: %v, want a CorruptError of npm", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a damaged archive left %v", entries)
	}

	// One flipped byte in a block: its CRC no longer matches.
	good, err := CompressArchive(filepath.Join(db.dir, "npm"+dbFileSuffix))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	writeFile(t, filepath.Join(damaged, CompressedName("npm")), flipped)
	out = t.TempDir()
	if _, err := Expand(damaged, out); !errors.As(err, &corrupt) || corrupt.Archive != "npm" {
		t.Errorf("a compressed archive with a flipped byte: %v, want a CorruptError of npm", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a damaged archive left %v", entries)
	}

	// A bomb: a small file that expands past its bound.
	var bomb bytes.Buffer
	enc := s2.NewWriter(&bomb)
	zero := make([]byte, 1<<20)
	for range (expansionSlack >> 20) + 8 {
		enc.Write(zero)
	}
	enc.Close()
	bombs := t.TempDir()
	writeFile(t, filepath.Join(bombs, CompressedName("Debian")), bomb.Bytes())
	out = t.TempDir()
	if _, err := Expand(bombs, out); !errors.As(err, &corrupt) || !strings.Contains(err.Error(), "expands past") {
		t.Errorf("a compressed archive expanding past its bound: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a refused archive left %v", entries)
	}
}

// TestStatuses: the archives' states read without opening the database are
// what an opened database says; a file that is not a database is an error
// naming it.
func TestStatuses(t *testing.T) {
	db := testDB(t)
	got, err := Statuses(db.dir)
	if err != nil {
		t.Fatal(err)
	}
	want := db.Status()
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("Statuses: %d archives, Status %d", len(got), len(want))
	}
	for i := range got {
		if !got[i].Updated.Equal(want[i].Updated) || got[i].Archive != want[i].Archive || got[i].Records != want[i].Records || got[i].ETag != want[i].ETag {
			t.Errorf("archive %d: %+v, opened %+v", i, got[i], want[i])
		}
	}
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "npm.db"), bytes.Repeat([]byte("not bbolt "), 1000))
	if _, err := Statuses(bad); err == nil || !strings.Contains(err.Error(), filepath.Join(bad, "npm.db")) {
		t.Errorf("a file that is not a database: %v", err)
	}
}
