package registry

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenTar: whatever a file holds, opening it as an image tar and reading
// its config and every layer returns or fails with an error; it never
// panics, and a damaged blob is an error, not a different image.
func FuzzOpenTar(f *testing.F) {
	file, _ := ociTar(f)
	seed, err := os.ReadFile(file)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "image.tar")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := OpenTar(file)
		if err != nil {
			return
		}
		if _, err := img.ConfigFile(); err != nil {
			return
		}
		_ = readLayers(img)
	})
}
