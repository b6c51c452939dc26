package build

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
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
