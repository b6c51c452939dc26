package build

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/klauspost/compress/zstd"
	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
)

// TestImageInput: files become an image of one zstd tar layer whose blobs
// the store serves by digest, each checked against it; the same content
// makes the same digest whatever the files' times and whoever compresses
// it, so a builder that holds the layer is sent nothing; other content
// makes another digest.
func TestImageInput(t *testing.T) {
	dir, cache := t.TempDir(), filepath.Join(t.TempDir(), "layers")
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := write("exe", strings.Repeat("x", 1000), 0o755)
	lib := write("lib/libc.so.6", "libc", 0o644)
	files := []LayerFile{{Name: "scanner", Host: exe}, {Name: "lib/x86_64-linux-gnu/libc.so.6", Host: lib}}
	platform := ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	in, err := NewImageInput("secure-build-scanner", platform, cache, files, nil)
	if err != nil {
		t.Fatal(err)
	}

	solve := client.SolveOpt{LocalMounts: map[string]fsutil.FS{}, FrontendAttrs: map[string]string{}}
	solve.OCIStores = map[string]content.Store{}
	in.AddTo(&solve)
	if got, want := solve.FrontendAttrs["context:secure-build-scanner"], "oci-layout://secure-build-scanner@"+in.Digest.String(); got != want {
		t.Errorf("context attr %q, want %q", got, want)
	}
	store := solve.OCIStores["secure-build-scanner"]

	read := func(d digest.Digest) []byte {
		t.Helper()
		info, err := store.Info(t.Context(), d)
		if err != nil {
			t.Fatalf("info %s: %v", d, err)
		}
		ra, err := store.ReaderAt(t.Context(), ocispecs.Descriptor{Digest: d, Size: info.Size})
		if err != nil {
			t.Fatal(err)
		}
		defer ra.Close()
		b, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
		if err != nil {
			t.Fatalf("read %s: %v", d, err)
		}
		if int64(len(b)) != info.Size || digest.FromBytes(b) != d {
			t.Fatalf("blob %s: %d bytes of digest %s, info says %d", d, len(b), digest.FromBytes(b), info.Size)
		}
		return b
	}
	var manifest ocispecs.Manifest
	if err := json.Unmarshal(read(in.Digest), &manifest); err != nil {
		t.Fatal(err)
	}
	var config ocispecs.Image
	if err := json.Unmarshal(read(manifest.Config.Digest), &config); err != nil {
		t.Fatal(err)
	}
	if config.OS != "linux" || config.Architecture != "arm64" || len(manifest.Layers) != 1 ||
		len(config.RootFS.DiffIDs) != 1 ||
		manifest.Layers[0].MediaType != ocispecs.MediaTypeImageLayerZstd || manifest.Layers[0].Size != in.Size {
		t.Fatalf("manifest %+v, config %+v", manifest, config)
	}

	// The layer, read in pieces as the builder reads it, is a tar of the
	// files under their names, with their folders.
	zr, err := zstd.NewReader(bytes.NewReader(read(manifest.Layers[0].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	layer, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if d := digest.FromBytes(layer); d != config.RootFS.DiffIDs[0] {
		t.Errorf("the layer's tar is %s, its diff ID %s", d, config.RootFS.DiffIDs[0])
	}
	got := listTar(t, bytes.NewReader(layer))
	want := []string{"lib/ 5 755 ", "lib/x86_64-linux-gnu/ 5 755 ", "lib/x86_64-linux-gnu/libc.so.6 0 644 libc", "scanner 0 755 xxxx"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("layer holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := store.Info(t.Context(), digest.FromString("other")); !errors.Is(err, cerrdefs.ErrNotFound) {
		t.Errorf("info of another digest: %v, want not found", err)
	}

	// Same content, new times: the same image, made again.
	if err := os.Chtimes(exe, time.Unix(12345, 0), time.Unix(12345, 0)); err != nil {
		t.Fatal(err)
	}
	again, err := NewImageInput("secure-build-scanner", platform, cache, files, nil)
	if err != nil || again.Digest != in.Digest {
		t.Errorf("the same files again: %v, %v; want %s", again.Digest, err, in.Digest)
	}
	// Another user's cache makes the same bytes.
	elsewhere, err := NewImageInput("secure-build-scanner", platform, filepath.Join(t.TempDir(), "layers"), files, nil)
	if err != nil || elsewhere.Digest != in.Digest {
		t.Errorf("the same files in another cache: %v, %v; want %s", elsewhere.Digest, err, in.Digest)
	}
	// Other content: another image.
	write("exe", "short", 0o755)
	other, err := NewImageInput("secure-build-scanner", platform, cache, files, nil)
	if err != nil || other.Digest == in.Digest {
		t.Errorf("changed files: %v, %v; want a digest other than %s", other.Digest, err, in.Digest)
	}
}

// TestLayerCache: a layer is compressed once for files as they are and read
// from the cache after that; a damaged entry, or one of files since
// rewritten (even with their old size and times), is made again; old
// entries are pruned; a cache folder others can write is refused.
func TestLayerCache(t *testing.T) {
	dir, cache := t.TempDir(), filepath.Join(t.TempDir(), "layers")
	db := filepath.Join(dir, "Debian.db")
	if err := os.WriteFile(db, bytes.Repeat([]byte("record "), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []LayerFile{{Name: "Debian.db", Host: db}}
	first, err := cachedLayer(cache, "secure-build-db", files, same(files))
	if err != nil {
		t.Fatal(err)
	}
	if first.Size >= 35000/10 {
		t.Errorf("a layer of 35000 repetitive bytes is %d bytes compressed", first.Size)
	}
	fi, err := os.Stat(first.path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cachedLayer(cache, "secure-build-db", files, same(files))
	if err != nil || *again != *first {
		t.Fatalf("again: %+v, %v; want %+v", again, err, first)
	}
	if fi2, _ := os.Stat(first.path); !os.SameFile(fi, fi2) {
		t.Errorf("an entry for unchanged files was made again")
	}

	// A damaged blob: made again, same digest.
	if err := os.WriteFile(first.path, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	mended, err := cachedLayer(cache, "secure-build-db", files, same(files))
	if err != nil || mended.Digest != first.Digest {
		t.Fatalf("after damage: %+v, %v; want digest %s", mended, err, first.Digest)
	}
	if b, _ := os.ReadFile(mended.path); digest.FromBytes(b) != first.Digest {
		t.Errorf("the damaged blob was not replaced")
	}

	// Rewritten in place with the same size and times: another entry, of
	// the new content.
	mtime := time.Unix(1700000000, 0)
	if err := os.Chtimes(db, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	before, err := cachedLayer(cache, "secure-build-db", files, same(files))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, bytes.Repeat([]byte("RECORD "), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(db, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	rewritten, err := cachedLayer(cache, "secure-build-db", files, same(files))
	if err != nil {
		t.Fatal(err)
	}
	if rewritten.Digest == before.Digest {
		t.Errorf("a file rewritten with its old size and times kept its old layer %s", before.Digest)
	}

	// Pruning: entries beyond the newest two, unused for an hour, go.
	entries := func() []string {
		m, _ := filepath.Glob(filepath.Join(cache, "secure-build-db-*.json"))
		return m
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, m := range entries() {
		if err := os.Chtimes(m, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(entries()); n < 2 {
		t.Fatalf("%d entries before pruning, want at least 2", n)
	}
	if err := os.WriteFile(db, []byte("third"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := cachedLayer(cache, "secure-build-db", files, same(files))
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(); len(got) != keepLayers {
		t.Errorf("after pruning: %d entries %v, want %d", len(got), got, keepLayers)
	}
	if _, err := os.Stat(third.path); err != nil {
		t.Errorf("the newest entry was pruned: %v", err)
	}
	blobs, _ := filepath.Glob(filepath.Join(cache, "*.tar.zst"))
	if len(blobs) != keepLayers {
		t.Errorf("after pruning: blobs %v, want %d", blobs, keepLayers)
	}

	// make runs only when there is no entry; its error is the build's and
	// leaves no entry; sources that change while it runs fail the build.
	made := 0
	counting := func() ([]LayerFile, error) { made++; return files, nil }
	if _, err := cachedLayer(cache, "secure-build-db", files, counting); err != nil || made != 0 {
		t.Errorf("an entry there: make ran %d times (%v), want 0", made, err)
	}
	if err := os.WriteFile(db, []byte("fourth"), 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := errors.New("Debian.db: checksum mismatch")
	if _, err := cachedLayer(cache, "secure-build-db", files, func() ([]LayerFile, error) { return nil, damaged }); !errors.Is(err, damaged) {
		t.Errorf("make failing: %v, want its error", err)
	}
	if _, err := cachedLayer(cache, "secure-build-db", files, counting); err != nil || made != 1 {
		t.Errorf("after make failed: make ran %d times (%v), want 1", made, err)
	}
	if err := os.WriteFile(db, []byte("fifth"), 0o644); err != nil {
		t.Fatal(err)
	}
	changing := func() ([]LayerFile, error) { return files, os.WriteFile(db, []byte("sixth"), 0o644) }
	if _, err := cachedLayer(cache, "secure-build-db", files, changing); err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Errorf("a source changed while the layer was made: %v", err)
	}

	// A missing file and a folder are named.
	if _, err := cachedLayer(cache, "secure-build-db", []LayerFile{{Name: "x", Host: filepath.Join(dir, "missing")}}, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := cachedLayer(cache, "secure-build-db", []LayerFile{{Name: "x", Host: dir}}, nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: %v", err)
	}

	// A cache folder anyone can write is not used.
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := cachedLayer(shared, "secure-build-db", files, same(files)); err == nil {
		t.Errorf("a cache folder anyone can write was used")
	}
}

// same makes a layer of the sources themselves.
func same(files []LayerFile) func() ([]LayerFile, error) {
	return func() ([]LayerFile, error) { return files, nil }
}

// TestImageInputData: a layer file given by its content is a 0644 file of
// that content; the sources still name the layer.
func TestImageInputData(t *testing.T) {
	dir, cache := t.TempDir(), filepath.Join(t.TempDir(), "layers")
	src := filepath.Join(dir, "npm.db")
	if err := os.WriteFile(src, []byte("archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	sources := []LayerFile{{Name: "npm.db", Host: src}}
	made := func() ([]LayerFile, error) {
		return []LayerFile{{Name: "db/npm.db.s2", Data: []byte("compressed")}}, nil
	}
	l, err := cachedLayer(cache, "secure-build-db", sources, made)
	if err != nil {
		t.Fatal(err)
	}
	got := listTar(t, openLayer(t, l.path))
	if want := []string{"db/ 5 755 ", "db/npm.db.s2 0 644 comp"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("layer holds %q, want %q", got, want)
	}
}

// openLayer is the tar of the zstd-compressed layer at path.
func openLayer(t *testing.T, path string) io.Reader {
	t.Helper()
	blob, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zstd.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zr.Close)
	return zr
}

// layerFiles reads the zstd-compressed tar layer at path: its entries'
// names in order, and each one's content.
func layerFiles(t *testing.T, path string) ([]string, map[string][]byte) {
	t.Helper()
	var names []string
	files := map[string][]byte{}
	tr := tar.NewReader(openLayer(t, path))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		files[h.Name] = b
	}
}

// listTar lists a tar's entries as "name type mode" and the first four
// bytes of their content.
func listTar(t *testing.T, r io.Reader) []string {
	t.Helper()
	tr := tar.NewReader(r)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, fmt.Sprintf("%s %c %o %.4s", h.Name, h.Typeflag, h.Mode, b))
	}
}
