package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/secure-build/secure-build/sbom"
)

// zipFolder packs testdata/osv/<ecosystem> as OSV publishes it: all.zip
// with one JSON file a record.
func zipFolder(t *testing.T, ecosystem string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	entries, err := os.ReadDir(filepath.Join("testdata", "osv", ecosystem))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", "osv", ecosystem, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var minimist = pkg("minimist", "1.2.5", "pkg:npm/minimist@1.2.5")

func findingsOf(t *testing.T, dir string, p sbom.Package) []Finding {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	defer db.Close()
	return matchOne(t, db, p)
}

func TestImportZip(t *testing.T) {
	dir := t.TempDir()
	zipPath := writeFile(t, filepath.Join(t.TempDir(), "all.zip"), zipFolder(t, "npm"))
	statuses, err := Import(context.Background(), dir, []Source{{Path: zipPath}})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 || statuses[0].Archive != "npm" || statuses[0].Records != 2 || statuses[0].Packages != 3 {
		t.Fatalf("statuses %+v", statuses)
	}
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Errorf("minimist: %v", ids(got))
	}
}

func TestImportFailureKeepsThePreviousDatabase(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(t.TempDir(), "all.zip"), zipFolder(t, "npm"))
	if _, err := Import(context.Background(), dir, []Source{{Path: good}}); err != nil {
		t.Fatal(err)
	}
	full := zipFolder(t, "npm")
	var badRecord bytes.Buffer
	zw := zip.NewWriter(&badRecord)
	w, _ := zw.Create("GHSA-bad.json")
	w.Write([]byte(`{"id": "GHSA-bad", "affected": [{"package": {"ecosystem": "npm", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": 0}]}]}]`))
	zw.Close()

	cases := map[string]struct {
		data []byte
		want []string
	}{
		"truncated zip":         {full[:len(full)/2], []string{"truncated-zip.zip", "zip"}},
		"not a zip":             {[]byte("<html>proxy error</html>"), []string{"not-a-zip.zip", "not a valid zip"}},
		"record does not parse": {badRecord.Bytes(), []string{"record-does-not-parse.zip", "GHSA-bad.json"}},
	}
	for name, c := range cases {
		path := writeFile(t, filepath.Join(t.TempDir(), strings.ReplaceAll(name, " ", "-")+".zip"), c.data)
		_, err := Import(context.Background(), dir, []Source{{Path: path}})
		if err == nil {
			t.Errorf("%s: imported", name)
			continue
		}
		for _, want := range c.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not name %q", name, err, want)
			}
		}
		if got := findingsOf(t, dir, minimist); len(got) != 1 {
			t.Errorf("%s: the previous database lost minimist: %v", name, ids(got))
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	for _, l := range leftovers {
		if filepath.Base(l) != ".lock" {
			t.Errorf("a failed import left %s behind", l)
		}
	}
}

// Zip bounds: a record that declares or inflates to more than the limit is
// refused, and entry names never become paths.
func TestImportZipBounds(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("../../escape.json")
	w.Write(bytes.Repeat([]byte(" "), maxRecordSize+10))
	zw.Close()
	path := writeFile(t, filepath.Join(t.TempDir(), "bomb.zip"), buf.Bytes())
	_, err := Import(context.Background(), dir, []Source{{Path: path}})
	if err == nil || !strings.Contains(err.Error(), "allowed for a record") {
		t.Fatalf("oversized record: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.json")); err == nil {
		t.Errorf("an entry name wrote a file outside the database folder")
	}
}

func TestOpenMissingDatabaseSaysHowToGetOne(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nothing"))
	if err == nil || !strings.Contains(err.Error(), "db update") || !strings.Contains(err.Error(), "db import") {
		t.Fatalf("error %v: want one that says how to get a database", err)
	}
}

func TestOpenCorruptFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "npm.db"), bytes.Repeat([]byte("x"), 8192))
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "npm.db") {
		t.Fatalf("corrupt npm.db: %v", err)
	}
}

// Concurrent imports serialize on the folder lock, and a reader that opened
// the database keeps a consistent view while they replace it.
func TestConcurrentImportsAndReaders(t *testing.T) {
	dir := t.TempDir()
	zipPath := writeFile(t, filepath.Join(t.TempDir(), "all.zip"), zipFolder(t, "npm"))
	if _, err := Import(context.Background(), dir, []Source{{Path: zipPath}}); err != nil {
		t.Fatal(err)
	}
	reader, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Import(context.Background(), dir, []Source{{Path: zipPath}})
			errs <- err
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, _, err := reader.Match([]sbom.Package{minimist}); err != nil || len(got) != 1 {
				errs <- fmt.Errorf("reader during imports: %v %v", ids(got), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Errorf("after concurrent imports: %v", ids(got))
	}
}

// A build step mounts the database read-only: a copy with no write
// permission opens and matches.
func TestReadOnlyCopy(t *testing.T) {
	dir := t.TempDir()
	zipPath := writeFile(t, filepath.Join(t.TempDir(), "all.zip"), zipFolder(t, "npm"))
	if _, err := Import(context.Background(), dir, []Source{{Path: zipPath}}); err != nil {
		t.Fatal(err)
	}
	ro := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dir, "npm.db"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ro, "npm.db"), data)
	os.Chmod(filepath.Join(ro, "npm.db"), 0o444)
	os.Chmod(ro, 0o555)
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	if got := findingsOf(t, ro, minimist); len(got) != 1 {
		t.Errorf("read-only copy: %v", ids(got))
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 1 {
		t.Errorf("opening the read-only copy wrote %d files into it", len(entries)-1)
	}
}

// osvServer serves <base>/<Ecosystem>/all.zip on loopback, honouring
// If-None-Match, and can be told to fail.
type osvServer struct {
	*httptest.Server
	zips      map[string][]byte
	status    atomic.Int32 // when non-zero, every answer
	truncate  atomic.Bool
	downloads atomic.Int32
}

func newOSVServer(t *testing.T, zips map[string][]byte) *osvServer {
	s := &osvServer{zips: zips}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := s.status.Load(); code != 0 {
			http.Error(w, "injected failure", int(code))
			return
		}
		eco, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/all.zip")
		data, found := s.zips[eco]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf(`"%x"`, len(data))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.downloads.Add(1)
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if s.truncate.Load() {
			w.Write(data[:len(data)/2])
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestUpdateFromLoopbackServer(t *testing.T) {
	dir := t.TempDir()
	srv := newOSVServer(t, map[string][]byte{"npm": zipFolder(t, "npm"), "Go": zipFolder(t, "Go")})
	ctx := context.Background()

	results, err := Update(ctx, dir, srv.URL, []string{"npm", "Go"}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Unchanged || srv.downloads.Load() != 2 {
		t.Fatalf("first update: %+v, %d downloads", results, srv.downloads.Load())
	}
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Fatalf("after update: %v", ids(got))
	}

	// Unchanged archives are not downloaded again.
	results, err = Update(ctx, dir, srv.URL, []string{"npm", "Go"}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if srv.downloads.Load() != 2 || !results[0].Unchanged || !results[1].Unchanged {
		t.Errorf("second update: %+v, %d downloads; want both unchanged", results, srv.downloads.Load())
	}

	// A server error, or a download cut short, fails the update and the
	// database survives.
	srv.zips["npm"] = append(zipFolder(t, "npm"), 0) // a new ETag
	srv.status.Store(http.StatusInternalServerError)
	if _, err := Update(ctx, dir, srv.URL, []string{"npm"}, srv.Client(), nil); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("update from a failing server: %v", err)
	}
	srv.status.Store(0)
	srv.truncate.Store(true)
	if _, err := Update(ctx, dir, srv.URL, []string{"npm"}, srv.Client(), nil); err == nil {
		t.Errorf("update with a truncated download succeeded")
	}
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Errorf("after failed updates: %v", ids(got))
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".download-*"))
	if len(leftovers) > 0 {
		t.Errorf("failed updates left %v", leftovers)
	}
}

// TestImportPacks: an imported archive file holds full pages and no hole at
// its end (bbolt grows files 16 MB at a time), so a build sends and hashes
// its data, not zeros.
func TestImportPacks(t *testing.T) {
	dir := t.TempDir()
	if _, err := Import(context.Background(), dir, []Source{{Path: "testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "npm.db"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 64<<10 {
		t.Errorf("npm.db of two records is %d bytes: not packed", fi.Size())
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("the packed file does not open: %v", err)
	}
	defer db.Close()
	if st := db.Status(); len(st) != 1 || st[0].Records != 2 {
		t.Errorf("status %+v, want the two records", st)
	}
	if u := db.Updated(); len(u) != 1 || !u["npm"].Equal(db.Oldest()) {
		t.Errorf("updated %v, want npm's import time", u)
	}
}
