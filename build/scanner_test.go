package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPruneBundles: of the scanner bundles, the newest two, any used in
// the last hour and the one in use stay; the others go, whole; a file
// beside them is not a bundle and stays.
func TestPruneBundles(t *testing.T) {
	parent := t.TempDir()
	ages := map[string]time.Duration{
		"in-use":   3 * time.Hour,
		"oldest":   4 * time.Hour,
		"old":      2 * time.Hour,
		"newer":    90 * time.Minute,
		"newest":   80 * time.Minute,
		"used-now": 10 * time.Minute,
	}
	for name, age := range ages {
		dir := filepath.Join(parent, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "docker-secure"), []byte(name), 0o755); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		if err := os.Chtimes(dir, when, when); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(parent, "note"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pruneBundles(parent, filepath.Join(parent, "in-use")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	// used-now and newest are the newest two; newer, old and oldest are
	// older and past the hour; in-use is the bundle of this build.
	want := []string{"in-use", "newest", "note", "used-now"}
	if !slices.Equal(got, want) {
		t.Errorf("after pruning: %v, want %v", got, want)
	}
}

// TestScannerOfScanStep: the plugin sends the scan step binary beside it
// only while that file hashes to the digest the plugin was linked with;
// else it sends itself, saying why when a file was there.
func TestScannerOfScanStep(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe, step := filepath.Join(dir, "docker-secure"), filepath.Join(dir, ScanStepName)
	for _, p := range []string{exe, step} {
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(b)
	linked := "sha256:" + hex.EncodeToString(sum[:])
	platform := ocispecs.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}

	sends := func(what, stepDigest, wantPath, wantSaid string) {
		t.Helper()
		var stderr bytes.Buffer
		s, err := scannerOf(&stderr, platform, exe, stepDigest)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if s.Path != wantPath {
			t.Errorf("%s: the scanner is %s, want %s", what, s.Path, wantPath)
		}
		f, err := os.Open(s.Local.store.layer.path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := zstd.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		var names []string
		for _, e := range listTar(t, zr) {
			names = append(names, strings.Fields(e)[0])
		}
		if !slices.Contains(names, strings.TrimPrefix(wantPath, "/")) {
			t.Errorf("%s: the scanner's layer holds %v, not %s", what, names, wantPath)
		}
		if said := stderr.String(); wantSaid == "" && said != "" || !strings.Contains(said, wantSaid) {
			t.Errorf("%s: said %q, want %q", what, said, wantSaid)
		}
	}
	sends("no digest linked", "", "/docker-secure", "")
	sends("the step binary it was linked with", linked, "/"+ScanStepName, "")
	sends("the same, from the layer cache", linked, "/"+ScanStepName, "")
	other := "sha256:" + strings.Repeat("0", 64)
	sends("a step binary of another build", other, "/docker-secure", step+" is not the scan step this binary was built with (it is "+linked+", this binary wants "+other+"): sending this binary as the scanner")
	if err := os.WriteFile(step, append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	sends("a step binary changed after the layer was made", linked, "/docker-secure", step+" is not the scan step this binary was built with")
	if err := os.Remove(step); err != nil {
		t.Fatal(err)
	}
	sends("no step binary beside it", linked, "/docker-secure", "")
}
