package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-build/secure-build/sbom"
)

// zipOf packs the records of testdata/osv/<ecosystem> and extra records
// (name -> JSON) as one all.zip.
func zipOf(t *testing.T, ecosystem string, extra map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if ecosystem != "" {
		entries, err := os.ReadDir(filepath.Join("testdata", "osv", ecosystem))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join("testdata", "osv", ecosystem, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			add(e.Name(), data)
		}
	}
	for name, data := range extra {
		add(name, []byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// twoEcosystemRecord is a GHSA record naming an npm and a PyPI package, as OSV
// publishes in both archives.
func twoEcosystemRecord(modified, npmFixed string) map[string]string {
	return map[string]string{"GHSA-2099-cross.json": fmt.Sprintf(`{
		"id": "GHSA-2099-cross", "modified": %q, "summary": "one advisory, two ecosystems",
		"database_specific": {"severity": "HIGH"},
		"affected": [
			{"package": {"ecosystem": "npm", "name": "crosspkg"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": %q}]}]},
			{"package": {"ecosystem": "PyPI", "name": "crosspy"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}
		]}`, modified, npmFixed)}
}

var (
	crossNPM  = pkg("crosspkg", "1.2.0", "pkg:npm/crosspkg@1.2.0")
	crossPyPI = pkg("crosspy", "1.0", "pkg:pypi/crosspy@1.0")
)

func fixesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"@"+f.FixedVersion)
	}
	return out
}

// TestUpdateReplacesOnlyWhatItDownloaded: npm answers 304 while PyPI's
// archive changed and holds a record naming an npm package too. The npm
// archive must keep minimist's critical; the new record is found for both
// ecosystems; when npm's archive later carries a newer copy of it, that copy
// counts, once; and when npm's archive drops it, PyPI's copy still finds it.
func TestUpdateReplacesOnlyWhatItDownloaded(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv := newOSVServer(t, map[string][]byte{"npm": zipOf(t, "npm", nil), "PyPI": zipOf(t, "PyPI", nil)})
	update := func(wantUnchanged ...string) {
		t.Helper()
		results, err := Update(ctx, dir, srv.URL, []string{"npm", "PyPI"}, srv.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var unchanged []string
		for _, r := range results {
			if r.Unchanged {
				unchanged = append(unchanged, r.Archive)
			}
		}
		if strings.Join(unchanged, ",") != strings.Join(wantUnchanged, ",") {
			t.Fatalf("unchanged archives %v, want %v", unchanged, wantUnchanged)
		}
	}
	update()

	srv.zips["PyPI"] = zipOf(t, "PyPI", twoEcosystemRecord("2024-03-01T00:00:00Z", "1.5.0"))
	update("npm")
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Fatalf("npm answered 304 and PyPI's archive named npm: minimist's findings %v, want its critical", ids(got))
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range db.Status() {
		if st.Archive == "npm" && st.Records != 2 {
			t.Errorf("npm archive has %d records after an update that did not download it, want its 2", st.Records)
		}
	}
	db.Close()
	if got := fixesOf(findingsOf(t, dir, crossNPM)); strings.Join(got, ",") != "GHSA-2099-cross@1.5.0" {
		t.Errorf("the PyPI archive's record naming npm: npm findings %v", got)
	}
	if got := ids(findingsOf(t, dir, crossPyPI)); strings.Join(got, ",") != "GHSA-2099-cross" {
		t.Errorf("the PyPI archive's record: PyPI findings %v", got)
	}

	// npm's archive now carries a newer copy, fixed earlier: it alone counts.
	srv.zips["npm"] = zipOf(t, "npm", twoEcosystemRecord("2024-04-01T00:00:00Z", "1.3.0"))
	update("PyPI")
	if got := fixesOf(findingsOf(t, dir, crossNPM)); strings.Join(got, ",") != "GHSA-2099-cross@1.3.0" {
		t.Errorf("a record in both archives: npm findings %v, want the newer copy's once", got)
	}
	fixedByNewer := pkg("crosspkg", "1.4.0", "pkg:npm/crosspkg@1.4.0")
	if got := fixesOf(findingsOf(t, dir, fixedByNewer)); len(got) != 0 {
		t.Errorf("crosspkg 1.4.0 is fixed by the newer copy, but matched %v from the older one", got)
	}
	if got := ids(findingsOf(t, dir, crossPyPI)); len(got) != 1 {
		t.Errorf("a record in both archives: PyPI findings %v, want one", got)
	}

	// npm's archive drops it: PyPI's copy still finds the npm package.
	srv.zips["npm"] = append(zipOf(t, "npm", nil), 0)
	update("PyPI")
	if got := fixesOf(findingsOf(t, dir, crossNPM)); strings.Join(got, ",") != "GHSA-2099-cross@1.5.0" {
		t.Errorf("npm's archive dropped the record PyPI's still has: npm findings %v", got)
	}
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Errorf("minimist after the last update: %v", ids(got))
	}
}

// TestImportFilesCrossRecords: importing PyPI's zip offline never replaces
// the npm archive either; a zip of several ecosystems files a record naming
// two under both, and it is found once.
func TestImportFilesCrossRecords(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	npmZip := writeFile(t, filepath.Join(t.TempDir(), "npm.zip"), zipOf(t, "npm", nil))
	if _, err := Import(ctx, dir, []Source{{Path: npmZip}}); err != nil {
		t.Fatal(err)
	}
	pypiZip := writeFile(t, filepath.Join(t.TempDir(), "pypi.zip"), zipOf(t, "PyPI", twoEcosystemRecord("2024-03-01T00:00:00Z", "1.5.0")))
	statuses, err := Import(ctx, dir, []Source{{Path: pypiZip}})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 || statuses[0].Archive != "PyPI" || statuses[0].Records != 2 {
		t.Errorf("importing PyPI's zip replaced %+v, want PyPI alone with its 2 records", statuses)
	}
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Errorf("minimist after importing PyPI's zip: %v", ids(got))
	}
	if got := ids(findingsOf(t, dir, crossNPM)); len(got) != 1 {
		t.Errorf("npm findings of PyPI's record naming npm: %v", got)
	}

	combined := writeFile(t, filepath.Join(t.TempDir(), "all.zip"), zipOf(t, "npm", twoEcosystemRecord("2024-03-01T00:00:00Z", "1.5.0")))
	statuses, err = Import(ctx, dir, []Source{{Path: combined}, {Path: pypiZip}})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 2 || statuses[0].Records != 2 || statuses[1].Records != 3 {
		t.Errorf("statuses %+v, want PyPI with 2 records and npm with 3", statuses)
	}
	for _, p := range []sbom.Package{crossNPM, crossPyPI} {
		if got := ids(findingsOf(t, dir, p)); strings.Join(got, ",") != "GHSA-2099-cross" {
			t.Errorf("%s: findings %v, want the record once", p.PURL, got)
		}
	}
}

// A child process that runs an update, for TestKilledUpdateIsCleanedUp.
func TestHelperUpdateProcess(t *testing.T) {
	dir, url := os.Getenv("VULN_TEST_UPDATE_DIR"), os.Getenv("VULN_TEST_UPDATE_URL")
	if dir == "" {
		t.Skip("run by TestKilledUpdateIsCleanedUp")
	}
	Update(context.Background(), dir, url, []string{"npm"}, nil, nil)
}

// TestKilledUpdateIsCleanedUp: an update killed (SIGKILL) in the middle of
// a download leaves its half file; the next update removes it, and the
// half file never becomes data.
func TestKilledUpdateIsCleanedUp(t *testing.T) {
	dir := t.TempDir()
	data := zipOf(t, "npm", nil)
	// The first request (the child's) gets half the archive, then waits.
	stall := make(chan struct{})
	var stalled atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/npm/all.zip" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if !stalled.Swap(true) {
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stall) })

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperUpdateProcess$")
	cmd.Env = append(os.Environ(), "VULN_TEST_UPDATE_DIR="+dir, "VULN_TEST_UPDATE_URL="+srv.URL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var half string
	for deadline := time.Now().Add(20 * time.Second); half == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		matches, _ := filepath.Glob(filepath.Join(dir, downloadPattern))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Size() > 0 {
				half = m
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if half == "" {
		t.Fatal("the child update never wrote its download")
	}
	if _, err := os.Stat(half); err != nil {
		t.Fatalf("the killed update's download is not there to clean up: %v", err)
	}

	if _, err := Update(context.Background(), dir, srv.URL, []string{"npm"}, srv.Client(), nil); err != nil {
		t.Fatal(err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, downloadPattern)); len(leftovers) > 0 {
		t.Errorf("the next update left the killed one's downloads: %v", leftovers)
	}
	if got := findingsOf(t, dir, minimist); len(got) != 1 {
		t.Errorf("minimist after the update: %v", ids(got))
	}
}

// npmDatabase imports testdata's npm records and returns the folder and
// its archive file.
func npmDatabase(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := Import(context.Background(), dir, []Source{{Path: "testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, "npm.db")
}

// wantCorrupt checks that err is a CorruptError naming the file and how to
// get it back.
func wantCorrupt(t *testing.T, what string, err error, file string) {
	t.Helper()
	var corrupt *CorruptError
	if !errors.As(err, &corrupt) {
		t.Fatalf("%s: error %v, want a CorruptError", what, err)
	}
	for _, want := range []string{file, "docker secure db update --ecosystem npm", "docker secure db import"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not say %q", what, err, want)
		}
	}
}

// TestOpenDamagedFile: a byte flipped in a page, a file cut short, a file
// without its checksum: Open says which file and how to recover.
func TestOpenDamagedFile(t *testing.T) {
	page := int64(os.Getpagesize())
	cases := map[string]func(t *testing.T, path string){
		"a byte flipped in a page": func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			f.ReadAt(b, 2*page+100)
			b[0] ^= 0x20
			if _, err := f.WriteAt(b, 2*page+100); err != nil {
				t.Fatal(err)
			}
		},
		"cut short": func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()/2)
		},
		"no checksum (an older file)": func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()-int64(checksumTrailer))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir, file := npmDatabase(t)
			damage(t, file)
			db, err := Open(dir)
			if err == nil {
				db.Close()
			}
			wantCorrupt(t, name, err, file)
		})
	}
}

// leafPageFlag is bbolt's page flag of a leaf page (internal/common).
const leafPageFlag = 0x02

// TestDamageAfterOpenIsAnError: pages damaged after Open checked the file
// (bbolt reads them through its mapping) make Match return an error naming
// the file, never panic or crash: pages that are not what bbolt expects,
// and leaf elements that point far past the mapped file.
func TestDamageAfterOpenIsAnError(t *testing.T) {
	page := int64(os.Getpagesize())
	cases := map[string]func(data []byte){
		"garbage pages": func(data []byte) {
			for i := 2 * page; i < int64(len(data)); i++ {
				data[i] = 0xff
			}
		},
		"elements past the mapping": func(data []byte) {
			for off := 2 * page; off+page <= int64(len(data)); off += page {
				if binary.LittleEndian.Uint16(data[off+8:])&leafPageFlag == 0 {
					continue
				}
				count := int64(binary.LittleEndian.Uint16(data[off+10:]))
				for j := int64(0); j < count && off+16+j*16+8 <= int64(len(data)); j++ {
					binary.LittleEndian.PutUint32(data[off+16+j*16+4:], 0x7ffffff0)
				}
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir, file := npmDatabase(t)
			db, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			damage(data)
			f, err := os.OpenFile(file, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteAt(data, 0)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = db.Match([]sbom.Package{minimist})
			wantCorrupt(t, name, err, file)
		})
	}
}
