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
	if runtime.GOOS != "linux" {
		t.Skip("the scanner is bundled for Linux builders: this test bundles its own binary")
	}
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
	// The two differ, so that the layer's content says which was sent: an
	// ELF file may end in anything.
	stepBytes := append(slices.Clone(b), "scan step"...)
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(step, stepBytes, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(stepBytes)
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
		// The layer holds the file sent, under the name the step runs.
		want := b
		if wantPath == "/"+ScanStepName {
			want = stepBytes
		}
		names, files := layerFiles(t, s.Local.store.layer.path)
		held := bytes.Equal(files[strings.TrimPrefix(wantPath, "/")], want)
		if !held {
			t.Errorf("%s: the scanner's layer (%v) does not hold the binary to send as %s", what, names, wantPath)
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
