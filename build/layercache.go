package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"github.com/secure-build/secure-build/bundle"
)

// layerFormat names how a cached layer is made. Its digest is part of the
// image's name, which BuildKit keys the scan step by, so every client of a
// version makes the same bytes of the same files (one encoder, one level):
// a fleet sharing a cache shares the step. A change here must change the
// name, so that no entry made the old way is read.
const layerFormat = "secure-build layer 3: tar (epoch times, sorted), zstd level 1, one encoder; database archives S2 inside"

// Of the entries of one input the cache keeps the newest keepLayers, and any
// used in the last keepLayersFor: a database update or a new binary leaves
// the older entry, which a build still running may be sending. An hour, not
// more: a developer's every rebuilt binary makes a 20 MB entry.
const (
	keepLayers    = 2
	keepLayersFor = time.Hour
)

// compressedLayer is a layer of files, compressed, in the layer cache.
type compressedLayer struct {
	// Digest and Size are the compressed blob's, DiffID the tar's.
	Digest digest.Digest `json:"digest"`
	DiffID digest.Digest `json:"diffID"`
	Size   int64         `json:"size"`
	// Format is layerFormat when it was made.
	Format string `json:"format"`
	// Blob is the blob file's identity (fileIdentity) when it was put in
	// place: while it is the same, the blob is the one checked then.
	Blob string `json:"blob,omitempty"`
	path string
}

// cacheDir is this user's folder of secure-build's caches. Without a user
// cache folder (no HOME), a folder of this user's in the temporary folder
// does; bundle.PrivateDir refuses one someone else made first.
func cacheDir() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = filepath.Join(os.TempDir(), "secure-build-"+strconv.Itoa(os.Getuid()))
	}
	return filepath.Join(cache, "secure-build")
}

// layerCacheDir is where the layers of the builder's image inputs are kept.
func layerCacheDir() string { return filepath.Join(cacheDir(), "layers") }

// cachedLayer returns a compressed layer from the private folder dir,
// making it when the folder has none for sources as they are now: make then
// checks the sources and returns the files the layer holds (the sources
// themselves, or copies of them). An entry is found by the sources' names,
// sizes, modes, times and, where the system has them, device, inode and
// change time (which no one can set), so a build that sends the same
// database and scanner again reads neither. The folder is trusted as the
// user's own files are, as Go's build cache is: a folder anyone else can
// write is refused. A damaged entry is made again; sources that change
// while the layer is made fail the build.
func cachedLayer(dir, name string, sources []LayerFile, make func() ([]LayerFile, error)) (*compressedLayer, error) {
	sources = sortedFiles(sources)
	key, err := filesKey(sources)
	if err != nil {
		return nil, err
	}
	if err := bundle.PrivateDir(dir); err != nil {
		return nil, fmt.Errorf("layer cache %s: %w", dir, err)
	}
	base := filepath.Join(dir, name+"-"+key)
	if l, err := readCachedLayer(base); err == nil {
		now := time.Now()
		// Touched, so that no other build prunes it while this one runs.
		_ = os.Chtimes(base+".json", now, now)
		return l, nil
	}
	files, err := make()
	if err != nil {
		return nil, err
	}
	l, err := writeCachedLayer(dir, base, files)
	if err != nil {
		return nil, err
	}
	after, err := filesKey(sources)
	if err != nil {
		return nil, err
	}
	if after != key {
		os.Remove(base + ".json")
		return nil, fmt.Errorf("%s changed while it was read: try again", describeFiles(sources))
	}
	if err := pruneLayers(dir, name, filepath.Base(base)); err != nil {
		return nil, err
	}
	return l, nil
}

// sortedFiles are files in the order of their names in the image: a
// layer's, and a cache key's, order.
func sortedFiles(files []LayerFile) []LayerFile {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b LayerFile) int { return strings.Compare(a.Name, b.Name) })
	return files
}

// filesKey names the files as they are now: their names and, where the
// system keeps a change time, their identity; elsewhere, and for data, their
// content.
func filesKey(files []LayerFile) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", layerFormat)
	for _, f := range files {
		if f.Host == "" {
			fmt.Fprintf(h, "%q data %x\n", f.Name, sha256.Sum256(f.Data))
			continue
		}
		host, err := filepath.Abs(f.Host)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(host)
		if err != nil {
			return "", err
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file", f.Host)
		}
		fmt.Fprintf(h, "%q %q %d %o %d ", f.Name, host, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		if id, ok := fileIdentity(fi); ok {
			fmt.Fprintf(h, "%s\n", id)
			continue
		}
		sum, _, err := bundle.FileDigest(host)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%x\n", sum)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// readCachedLayer reads the entry base and checks its blob: by identity
// where the system has one, else against its digest; any error means there
// is no usable entry.
func readCachedLayer(base string) (*compressedLayer, error) {
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		return nil, err
	}
	var l compressedLayer
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	if l.Format != layerFormat || l.Digest.Validate() != nil || l.DiffID.Validate() != nil {
		return nil, errors.New("not an entry of this format")
	}
	l.path = base + ".tar.zst"
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if id, ok := fileIdentity(fi); ok && l.Blob != "" && id == l.Blob && fi.Size() == l.Size {
		return &l, nil
	}
	v := l.Digest.Verifier()
	n, err := io.Copy(v, f)
	if err != nil {
		return nil, err
	}
	if n != l.Size || !v.Verified() {
		return nil, errors.New("damaged")
	}
	return &l, nil
}

// writeCachedLayer makes the tar of files and its compressed blob in one
// read of the files, and puts the blob, then its description, in place.
func writeCachedLayer(dir, base string, files []LayerFile) (*compressedLayer, error) {
	tl, err := newTarLayer(files)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".layer-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	blobDigest, tarDigest := digest.SHA256.Digester(), digest.SHA256.Digester()
	blobSize := &countWriter{}
	enc, err := zstd.NewWriter(io.MultiWriter(tmp, blobDigest.Hash(), blobSize),
		zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	r := tl.readerAt()
	_, err = io.Copy(enc, io.TeeReader(io.NewSectionReader(r, 0, tl.size), tarDigest.Hash()))
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if cerr := enc.Close(); err == nil {
		err = cerr
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("layer of %s: %w", describeFiles(files), err)
	}
	l := &compressedLayer{Digest: blobDigest.Digest(), DiffID: tarDigest.Digest(), Size: blobSize.n, Format: layerFormat, path: base + ".tar.zst"}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	if fi, err := os.Stat(l.path); err == nil {
		l.Blob, _ = fileIdentity(fi)
	}
	meta, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	if err := writeFileAtomic(dir, base+".json", meta); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return l, nil
}

func writeFileAtomic(dir, path string, b []byte) error {
	tmp, err := os.CreateTemp(dir, ".layer-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// pruneLayers removes the entries of input name beyond the newest
// keepLayers that no build used in keepLayersFor; keep is the entry just
// made.
func pruneLayers(dir, name, keep string) error {
	metas, err := filepath.Glob(filepath.Join(dir, name+"-*.json"))
	if err != nil {
		return fmt.Errorf("layer cache %s: %w", dir, err)
	}
	var entries []cacheEntry
	for _, m := range metas {
		fi, err := os.Stat(m)
		if err != nil {
			continue // removed by another build
		}
		entries = append(entries, cacheEntry{path: m[:len(m)-len(".json")], used: fi.ModTime()})
	}
	for _, e := range stale(entries, filepath.Join(dir, keep)) {
		for _, p := range []string{e.path + ".json", e.path + ".tar.zst"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("layer cache: %w", err)
			}
		}
	}
	return nil
}

// cacheEntry is one entry of a cache folder and when a build last used it.
type cacheEntry struct {
	path string
	used time.Time
}

// stale are the entries a cache no longer keeps: past the newest
// keepLayers, not used in keepLayersFor, and not keep, the one in use.
func stale(entries []cacheEntry, keep string) []cacheEntry {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b cacheEntry) int { return b.used.Compare(a.used) })
	var out []cacheEntry
	for i, e := range entries {
		if i < keepLayers || e.path == keep || time.Since(e.used) < keepLayersFor {
			continue
		}
		out = append(out, e)
	}
	return out
}

func describeFiles(files []LayerFile) string {
	if len(files) == 0 {
		return "no files"
	}
	first := files[0].Host
	if first == "" {
		first = files[0].Name
	}
	if len(files) == 1 {
		return first
	}
	return fmt.Sprintf("%s and %d other files", first, len(files)-1)
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
