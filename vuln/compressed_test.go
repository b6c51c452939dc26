package vuln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/secure-build/secure-build/sbom"
)

// compressedCopy writes db's archives compressed into a new folder, with
// their index when withIndex.
func compressedCopy(t *testing.T, db *DB, withIndex bool) string {
	t.Helper()
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
		writeFile(t, filepath.Join(sent, CompressedName(a)), data)
	}
	if withIndex {
		index, err := CompressedIndex(db)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(sent, IndexFile), index)
	}
	return sent
}

// expandAndOpen opens the compressed database sent for pkgs, and lists the
// archive files it expanded.
func expandAndOpen(t *testing.T, sent string, pkgs ...sbom.Package) (*DB, []string, error) {
	t.Helper()
	into := t.TempDir()
	e, err := NewExpander(sent, into)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pkgs {
		e.Need(p)
	}
	db, err := e.Open(pkgs)
	e.Wait()
	var files []string
	entries, _ := os.ReadDir(into)
	for _, entry := range entries {
		files = append(files, entry.Name())
	}
	return db, files, err
}

// TestExpander: a database sent compressed with its index expands only the
// archives holding entries of the packages looked up, an archive whose
// records also name their ecosystem included, and finds what the database
// it was made of finds; its update times still name every archive. Without
// an index every archive expands; a folder of archive files is opened where
// it is.
func TestExpander(t *testing.T) {
	dir := t.TempDir()
	zips := t.TempDir()
	var sources []Source
	for _, eco := range []string{"npm", "PyPI", "Debian", "Go"} {
		var extra map[string]string
		if eco == "PyPI" {
			extra = twoEcosystemRecord("2024-03-01T00:00:00Z", "1.5.0")
		}
		path := writeFile(t, filepath.Join(zips, eco+".zip"), zipOf(t, eco, extra))
		sources = append(sources, Source{Path: path, Archive: eco})
	}
	if _, err := Import(context.Background(), dir, sources); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sent := compressedCopy(t, db, true)

	expanded, files, err := expandAndOpen(t, sent, minimist, crossNPM)
	if err != nil {
		t.Fatal(err)
	}
	defer expanded.Close()
	if want := []string{"PyPI.db", "npm.db"}; !slices.Equal(files, want) {
		t.Errorf("npm packages expanded %v, want %v (PyPI's archive names npm)", files, want)
	}
	for _, p := range []sbom.Package{minimist, crossNPM} {
		if got, want := ids(matchOne(t, expanded, p)), ids(matchOne(t, db, p)); len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("expanded database finds %v for %s, the original %v", got, p.PURL, want)
		}
	}
	if got, want := expanded.Updated(), db.Updated(); !maps.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("update times %v, want every archive's %v", got, want)
	}

	// A Go package needs Go's archive alone; a package of no ecosystem, none.
	_, files, err = expandAndOpen(t, sent, pkg("golang.org/x/text", "0.3.0", "pkg:golang/golang.org/x/text@0.3.0"))
	if err != nil || !slices.Equal(files, []string{"Go.db"}) {
		t.Errorf("a Go package expanded %v (%v), want Go.db", files, err)
	}
	_, files, err = expandAndOpen(t, sent, pkg("x", "1", "pkg:generic/x@1"))
	if err != nil || len(files) != 0 {
		t.Errorf("a package of no ecosystem expanded %v (%v), want none", files, err)
	}

	// Open needs what it is given, whether Need was called or not.
	e, err := NewExpander(sent, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opened, err := e.Open([]sbom.Package{minimist})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(matchOne(t, opened, minimist)); len(got) == 0 {
		t.Error("Open without Need found nothing for minimist")
	}
	opened.Close()

	// No index (a layer of an older secure-build): every archive expands.
	legacy := compressedCopy(t, db, false)
	all, files, err := expandAndOpen(t, legacy, minimist)
	if err != nil {
		t.Fatal(err)
	}
	all.Close()
	if want := []string{"Debian.db", "Go.db", "PyPI.db", "npm.db"}; !slices.Equal(files, want) {
		t.Errorf("without an index expanded %v, want %v", files, want)
	}

	// Archive files as they are: opened where they are.
	plain, files, err := expandAndOpen(t, dir, minimist)
	if err != nil || plain.Dir() != dir || len(files) != 0 {
		t.Errorf("a folder of archive files: %v, %v; want it opened in place", files, err)
	}
	if plain != nil {
		plain.Close()
	}

	// Both forms in one folder: refused.
	mixed := t.TempDir()
	writeFile(t, filepath.Join(mixed, "npm.db"), []byte("x"))
	writeFile(t, filepath.Join(mixed, CompressedName("Debian")), []byte("x"))
	if _, err := NewExpander(mixed, t.TempDir()); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("a folder of both forms: %v", err)
	}
}

// TestExpanderRefusesABadIndex: an index that does not describe the
// archives beside it could make a scan skip one holding a package's
// entries; it is an error naming it, before or after the archive expands.
func TestExpanderRefusesABadIndex(t *testing.T) {
	db := testDB(t)
	sent := compressedCopy(t, db, true)
	good, err := os.ReadFile(filepath.Join(sent, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx compressedIndex
	if err := json.Unmarshal(good, &idx); err != nil {
		t.Fatal(err)
	}
	edited := func(edit func(*compressedIndex)) []byte {
		c := compressedIndex{Format: idx.Format, Archives: slices.Clone(idx.Archives)}
		edit(&c)
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	npmAt := slices.IndexFunc(idx.Archives, func(a indexedArchive) bool { return a.Archive == "npm" })
	for name, tc := range map[string]struct {
		index []byte
		want  string
	}{
		"not JSON":        {[]byte("{"), "index.json"},
		"too large":       {bytes.Repeat([]byte(" "), maxIndexSize+1), "larger than"},
		"another format":  {edited(func(c *compressedIndex) { c.Format = 9 }), "format 9"},
		"an archive less": {edited(func(c *compressedIndex) { c.Archives = slices.Delete(c.Archives, npmAt, npmAt+1) }), "does not list npm.db.s2"},
		"an archive more": {edited(func(c *compressedIndex) { c.Archives = append(c.Archives, indexedArchive{Archive: "Hex"}) }), "lists Hex, which has no file"},
		"one twice":       {edited(func(c *compressedIndex) { c.Archives = append(c.Archives, c.Archives[npmAt]) }), "lists npm twice"},
	} {
		t.Run(name, func(t *testing.T) {
			writeFile(t, filepath.Join(sent, IndexFile), tc.index)
			if _, err := NewExpander(sent, t.TempDir()); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), IndexFile) {
				t.Errorf("NewExpander: %v, want an error naming %s: %s", err, IndexFile, tc.want)
			}
		})
	}

	// What the index says of an archive differs from the archive's own
	// metadata: caught once it expands. An index that says npm's archive
	// holds no npm entries does not leave it compressed.
	for name, edit := range map[string]func(*indexedArchive){
		"update time": func(a *indexedArchive) { a.Updated = a.Updated.Add(time.Hour) },
		"ecosystems":  func(a *indexedArchive) { a.Ecosystems = nil },
	} {
		t.Run(name, func(t *testing.T) {
			writeFile(t, filepath.Join(sent, IndexFile), edited(func(c *compressedIndex) {
				a := c.Archives[npmAt]
				a.Ecosystems = slices.Clone(a.Ecosystems)
				edit(&a)
				c.Archives[npmAt] = a
			}))
			e, err := NewExpander(sent, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			e.Need(minimist)
			var corrupt *CorruptError
			db, err := e.Open([]sbom.Package{minimist})
			if err == nil {
				db.Close()
			}
			if !errors.As(err, &corrupt) || corrupt.Archive != "npm" || !strings.Contains(err.Error(), IndexFile) {
				t.Errorf("Open: %v, want a CorruptError of npm naming %s", err, IndexFile)
			}
		})
	}
}

// TestExpanderRefusesDamage: a compressed archive that does not expand,
// expands past its bound, or expands to a file whose checksum is wrong is a
// CorruptError naming it, and leaves nothing behind.
func TestExpanderRefusesDamage(t *testing.T) {
	db := testDB(t)
	npmFile := filepath.Join(db.dir, "npm"+dbFileSuffix)
	good, err := CompressArchive(npmFile)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40

	// A flipped byte of the archive itself, compressed as it is: every
	// block's CRC holds, the archive's checksum does not.
	raw, err := os.ReadFile(npmFile)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/3] ^= 0x01
	changed := filepath.Join(t.TempDir(), "npm.db")
	writeFile(t, changed, raw)
	wrongSum, err := CompressArchive(changed)
	if err != nil {
		t.Fatal(err)
	}

	var bomb bytes.Buffer
	enc := s2.NewWriter(&bomb)
	zero := make([]byte, 1<<20)
	for range (expansionSlack >> 20) + 8 {
		enc.Write(zero)
	}
	enc.Close()

	index, err := CompressedIndex(db)
	if err != nil {
		t.Fatal(err)
	}
	var idx compressedIndex
	if err := json.Unmarshal(index, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Archives = slices.DeleteFunc(idx.Archives, func(a indexedArchive) bool { return a.Archive != "npm" })
	npmIndex, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"not S2":          {[]byte("not s2"), "s2:"},
		"a flipped block": {flipped, "s2:"},
		"a wrong sum":     {wrongSum, "checksum mismatch"},
		"a bomb":          {bomb.Bytes(), "expands past"},
	} {
		for _, withIndex := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, index %v", name, withIndex), func(t *testing.T) {
				sent := t.TempDir()
				writeFile(t, filepath.Join(sent, CompressedName("npm")), tc.data)
				if withIndex {
					writeFile(t, filepath.Join(sent, IndexFile), npmIndex)
				}
				into := t.TempDir()
				e, err := NewExpander(sent, into)
				if err != nil {
					t.Fatal(err)
				}
				var corrupt *CorruptError
				if _, err := e.Open([]sbom.Package{minimist}); !errors.As(err, &corrupt) || corrupt.Archive != "npm" || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Open: %v, want a CorruptError of npm (%q)", err, tc.want)
				}
				if entries, _ := os.ReadDir(into); len(entries) != 0 {
					t.Errorf("a damaged archive left %v", entries)
				}
			})
		}
	}
}

// TestStreamChecksum: the checksum checked as a file streams by, in writes
// of any sizes, says what verifyChecksum says of the file written.
func TestStreamChecksum(t *testing.T) {
	db := testDB(t)
	good, err := os.ReadFile(filepath.Join(db.dir, "npm"+dbFileSuffix))
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(good)
	damaged[len(damaged)/2] ^= 1
	cut := good[:len(good)-5]
	noTrailer := good[:len(good)-checksumTrailer]
	for name, data := range map[string][]byte{"good": good, "damaged": damaged, "cut": cut, "no trailer": noTrailer, "tiny": good[:10]} {
		path := writeFile(t, filepath.Join(t.TempDir(), "x.db"), data)
		want := verifyChecksum(path)
		if (want == nil) != (name == "good") {
			t.Fatalf("verifyChecksum of %s: %v", name, want)
		}
		for _, sizes := range [][]int{{len(data)}, {1}, {checksumTrailer}, {checksumTrailer - 1}, {checksumTrailer + 1}, {7, 4096, 3}, {65536}} {
			c := newStreamChecksum()
			for i, at := 0, 0; at < len(data); i++ {
				n := min(sizes[i%len(sizes)], len(data)-at)
				c.Write(data[at : at+n])
				at += n
			}
			got := c.check()
			if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
				t.Errorf("%s in writes of %v: %v, verifyChecksum says %v", name, sizes, got, want)
			}
		}
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
