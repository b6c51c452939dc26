package vuln

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/s2"
	"github.com/secure-build/secure-build/sbom"
	"golang.org/x/sync/errgroup"
)

// A database travels to a build's scan step with its archive files
// compressed (NAME.db.s2): a fifth of their size, and the builder writes
// that to disk, not the whole files; the step expands the ones it needs
// into its memory-backed /tmp while it catalogs the root (Expander). S2,
// not zstd: it expands twice as fast (20 ms against 55 ms for a 27 MB
// archive, measured), which the step's catalog feels on two cores, for
// files 1.4 times as large, which only the builder's early load sees.
const compressedSuffix = dbFileSuffix + ".s2"

// CompressedName is the name of archive's file in its compressed form.
func CompressedName(archive string) string { return archive + compressedSuffix }

// CompressArchive reads the archive file at path and returns it compressed
// (S2's default level, one goroutine: the same file makes the same bytes).
func CompressArchive(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out bytes.Buffer
	enc := s2.NewWriter(&out, s2.WriterConcurrency(1))
	if _, err := io.Copy(enc, f); err != nil {
		enc.Close()
		return nil, fmt.Errorf("compress %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("compress %s: %w", path, err)
	}
	return out.Bytes(), nil
}

// An expanded archive may be at most maxExpansion times its compressed
// size, plus expansionSlack: a bbolt file compresses about fivefold, and a
// file that expands to more is refused before it fills the step's memory.
const (
	maxExpansion   = 64
	expansionSlack = 64 << 20
)

// IndexFile lists, beside the compressed archives, what each one holds, so
// that a scan expands only the archives its packages are looked up in: a
// database of every ecosystem an update fetches is mostly archives an image
// has no package of, and each expanded one costs the step its CPU and its
// size in memory.
const IndexFile = "index.json"

// indexFormat is the shape of IndexFile.
const indexFormat = 1

// IndexFormat names the shape of IndexFile, for a cache of compressed
// databases to key on.
func IndexFormat() []byte {
	return []byte(fmt.Sprintf("secure-build compressed database index %d", indexFormat))
}

// maxIndexSize bounds IndexFile; an index lists a few dozen archives.
const maxIndexSize = 1 << 20

type compressedIndex struct {
	Format   int              `json:"format"`
	Archives []indexedArchive `json:"archives"`
}

type indexedArchive struct {
	Archive string `json:"archive"`
	// Ecosystems are the archives it holds package entries of: its own and
	// the ones its records also name.
	Ecosystems []string  `json:"ecosystems"`
	Updated    time.Time `json:"updated"`
}

// CompressedIndex is IndexFile for the compressed archives of db.
func CompressedIndex(db *DB) ([]byte, error) {
	idx := compressedIndex{Format: indexFormat}
	for _, name := range db.Archives() {
		f := db.files[name]
		idx.Archives = append(idx.Archives, indexedArchive{Archive: name, Ecosystems: f.ecosystems, Updated: f.status.Updated})
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("index the vulnerability database %s: %w", db.dir, err)
	}
	return b, nil
}

// Expander opens a database folder of compressed archives (NAME.db.s2)
// archive by archive, as a scan finds packages to look up: it expands an
// archive into a folder of the step's memory-backed /tmp, checking its
// checksum as it writes it, when a package needs it. Without an index every
// archive is needed; a folder of archive files is opened where it is. The
// index is trusted as far as the archives are: the client makes it of the
// database it checked, and the layer's digest carries both to the builder.
type Expander struct {
	dir, into string
	// plain is set when dir holds archive files, not compressed ones; they
	// are opened, which checks them, while the root is cataloged.
	plain   bool
	plainDB *DB
	// index is each compressed archive by name; holders, for each archive,
	// the compressed archives holding entries of it. Without an index,
	// holders is nil and every archive is expanded at once.
	index   map[string]indexedArchive
	holders map[string][]string

	mu        sync.Mutex
	started   map[string]bool
	expanding errgroup.Group
}

// NewExpander reads the folder dir; the archives expand into the folder
// into. An index that does not list exactly the compressed archives of the
// folder is an error: the scan could miss the entries of one.
func NewExpander(dir, into string) (*Expander, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database %s: %w", dir, err)
	}
	var names, plain []string
	for _, e := range entries {
		switch name := e.Name(); {
		case !e.Type().IsRegular() || strings.HasPrefix(name, "."):
		case strings.HasSuffix(name, compressedSuffix):
			names = append(names, strings.TrimSuffix(name, compressedSuffix))
		case strings.HasSuffix(name, dbFileSuffix):
			plain = append(plain, name)
		}
	}
	e := &Expander{dir: dir, into: into, started: map[string]bool{}}
	if len(names) == 0 {
		e.plain = true
		e.expanding.Go(func() (err error) {
			e.plainDB, err = Open(dir)
			return err
		})
		return e, nil
	}
	// One form or the other: a folder of both would be read as one of them,
	// without the other's archives.
	if len(plain) > 0 {
		return nil, fmt.Errorf("vulnerability database %s holds both archive files (%s) and compressed ones (%s)", dir, plain[0], CompressedName(names[0]))
	}
	if err := e.readIndex(names); err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %s: %w", dir, IndexFile, err)
	}
	if e.holders == nil {
		for _, name := range names {
			e.start(name)
		}
	}
	return e, nil
}

// readIndex reads IndexFile, if there is one, for the compressed archives
// names.
func (e *Expander) readIndex(names []string) error {
	f, err := os.Open(filepath.Join(e.dir, IndexFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return err
	}
	if len(b) > maxIndexSize {
		return fmt.Errorf("larger than %d bytes", maxIndexSize)
	}
	var idx compressedIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return err
	}
	if idx.Format != indexFormat {
		return fmt.Errorf("format %d, this secure-build reads %d", idx.Format, indexFormat)
	}
	e.index = map[string]indexedArchive{}
	e.holders = map[string][]string{}
	for _, a := range idx.Archives {
		if _, dup := e.index[a.Archive]; dup {
			return fmt.Errorf("lists %s twice", a.Archive)
		}
		if !slices.Contains(names, a.Archive) {
			return fmt.Errorf("lists %s, which has no file %s", a.Archive, CompressedName(a.Archive))
		}
		e.index[a.Archive] = a
		for _, eco := range a.Ecosystems {
			e.holders[eco] = append(e.holders[eco], a.Archive)
		}
	}
	for _, name := range names {
		if _, ok := e.index[name]; !ok {
			return fmt.Errorf("does not list %s", CompressedName(name))
		}
	}
	return nil
}

// Need starts expanding the archives that hold entries for p, unless they
// are expanding already.
func (e *Expander) Need(p sbom.Package) {
	if e.holders == nil {
		return
	}
	t, ok := lookupTarget(p)
	if !ok {
		return
	}
	archive := archiveOf(t.ecosystem)
	// The archive of the package's own ecosystem expands whatever the
	// index says it holds, and Open checks what the index says of it.
	if _, ok := e.index[archive]; ok {
		e.start(archive)
	}
	for _, name := range e.holders[archive] {
		e.start(name)
	}
}

func (e *Expander) start(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started[name] {
		return
	}
	e.started[name] = true
	e.expanding.Go(func() error {
		src := filepath.Join(e.dir, CompressedName(name))
		if err := expandFile(src, filepath.Join(e.into, name+dbFileSuffix)); err != nil {
			return &CorruptError{Path: src, Archive: name, Reason: err}
		}
		return nil
	})
}

// Open needs the archives of pkgs, waits for every archive started, and
// opens the database of them. Its Updated also names the archives left
// compressed, as the index says; what the index says an archive holds is
// checked for the archives expanded, and trusted for the others, whose
// entries no package needs.
func (e *Expander) Open(pkgs []sbom.Package) (*DB, error) {
	if e.plain {
		if err := e.expanding.Wait(); err != nil {
			return nil, err
		}
		return e.plainDB, nil
	}
	for _, p := range pkgs {
		e.Need(p)
	}
	if err := e.expanding.Wait(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	names := slices.Sorted(maps.Keys(e.started))
	e.mu.Unlock()
	// Each file's checksum was checked as it was written.
	db, err := openFiles(e.into, names, openBolt)
	if err != nil {
		return nil, err
	}
	for name, a := range e.index {
		f := db.files[name]
		if f == nil {
			db.skipped[name] = a.Updated
			continue
		}
		if !f.status.Updated.Equal(a.Updated) || !slices.Equal(f.ecosystems, a.Ecosystems) {
			db.Close()
			return nil, &CorruptError{Path: filepath.Join(e.dir, CompressedName(name)), Archive: name,
				Reason: fmt.Errorf("%s says it was updated %s with entries of %v; it was updated %s with entries of %v",
					IndexFile, a.Updated.Format(time.RFC3339), a.Ecosystems, f.status.Updated.Format(time.RFC3339), f.ecosystems)}
		}
	}
	return db, nil
}

// Wait waits for the archives started to be written, so that the folder
// they expand into can be removed.
func (e *Expander) Wait() { e.expanding.Wait() }

// s2MaxBlock is the largest block S2's writers make (s2.maxBlockSize).
const s2MaxBlock = 4 << 20

// expandFile writes the archive file dst of the compressed one src, and
// checks its checksum trailer as it goes: the file is not read again.
func expandFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	limit := maxExpansion*fi.Size() + expansionSlack
	// The reader checks each block's CRC, and holds at most one block of
	// the largest size a writer makes.
	dec := s2.NewReader(in, s2.ReaderMaxBlockSize(s2MaxBlock))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	sum := newStreamChecksum()
	n, err := io.Copy(io.MultiWriter(out, sum), io.LimitReader(dec, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("expands past %d bytes (%d times its %d compressed bytes, and more): refused", limit, maxExpansion, fi.Size())
	}
	if err == nil {
		err = sum.check()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}

// streamChecksum hashes an archive file as it is written: all of it but
// its last checksumTrailer bytes, which it keeps to check against.
type streamChecksum struct {
	hash   *xxhash.Digest
	hashed int64
	tail   []byte
}

func newStreamChecksum() *streamChecksum {
	return &streamChecksum{hash: xxhash.New(), tail: make([]byte, 0, checksumTrailer)}
}

func (c *streamChecksum) Write(p []byte) (int, error) {
	if len(p) >= checksumTrailer {
		c.add(c.tail)
		c.add(p[:len(p)-checksumTrailer])
		c.tail = append(c.tail[:0], p[len(p)-checksumTrailer:]...)
		return len(p), nil
	}
	if over := len(c.tail) + len(p) - checksumTrailer; over > 0 {
		c.add(c.tail[:over])
		c.tail = append(c.tail[:0], c.tail[over:]...)
	}
	c.tail = append(c.tail, p...)
	return len(p), nil
}

func (c *streamChecksum) add(p []byte) {
	c.hash.Write(p)
	c.hashed += int64(len(p))
}

// check says what is wrong with the file written, if anything.
func (c *streamChecksum) check() error {
	want, err := parseTrailer(c.tail, c.hashed)
	if err != nil {
		return err
	}
	if got := c.hash.Sum64(); got != want {
		return checksumMismatch(got, want)
	}
	return nil
}
