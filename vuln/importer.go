package vuln

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/ossf/osv-schema/bindings/go/osvschema"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bounds on what an OSV zip may make us read: a record larger than
// maxRecordSize, more than maxZipEntries entries or more than maxZipBytes
// inflated in all is refused. Entries are only read, never written to disk,
// so no entry name can place a file anywhere.
const (
	maxRecordSize = 16 << 20
	maxZipEntries = 2_000_000
	maxZipBytes   = 16 << 30
)

// Source is one OSV archive to import: a zip or a folder of OSV JSON files.
type Source struct {
	Path string
	// Archive, when set, is the OSV archive the source is ("npm" for
	// <base>/npm/all.zip): it replaces that archive's file, and holds every
	// record of the source, whichever ecosystems a record names. When empty,
	// the source is filed by the ecosystems its records name (see Import).
	Archive string
	// Name is what status shows as the source (a URL for a download);
	// Path when empty.
	Name string
	// ETag and LastModified are the download's HTTP validators, kept for
	// the next conditional request.
	ETag, LastModified string
}

// Import reads each source and replaces the files of the OSV archives
// ("Debian", "Go", ...) they are, leaving every other archive as it was.
// A source with no Archive replaces each archive it has a record naming that
// archive alone. A record naming several archives is filed under those of
// them the import replaces (all it names when it replaces none), each with
// its own entries and those of the archives left as they are: importing
// PyPI's zip never replaces npm's file because one GHSA record in it names
// an npm package too; that record is found for npm from PyPI's file.
//
// Either every source imports or none does: a record that does not parse, a
// truncated or corrupt zip, or a full disk leaves the previous database as it
// was, and the error names the source and the record. Writers hold a lock on
// the folder; readers are never blocked, and see an archive's old data or
// its new data.
func Import(ctx context.Context, dir string, sources []Source) ([]ArchiveStatus, error) {
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return importLocked(ctx, dir, sources)
}

// lockDir creates the database folder, takes the writers' lock on it, and
// removes what a writer that died left behind.
func lockDir(ctx context.Context, dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create vulnerability database %s: %w", dir, err)
	}
	lock := flock.New(filepath.Join(dir, ".lock"))
	locked, err := lock.TryLockContext(ctx, 100*time.Millisecond)
	if err != nil || !locked {
		return nil, fmt.Errorf("lock vulnerability database %s: %w", dir, errors.Join(err, ctx.Err()))
	}
	if err := removeStaleTemps(dir); err != nil {
		lock.Unlock()
		return nil, err
	}
	return func() { lock.Unlock() }, nil
}

// crossRecord is a record naming several archives, of a source with no
// Archive: it is filed once the import knows which archives it replaces.
type crossRecord struct {
	src      Source
	name     string
	rec      record
	archives map[string]map[string][]affectedEntry
}

func importLocked(ctx context.Context, dir string, sources []Source) ([]ArchiveStatus, error) {
	builders := map[string]*archiveBuilder{}
	abort := func(err error) ([]ArchiveStatus, error) {
		for _, b := range builders {
			b.discard()
		}
		return nil, err
	}
	addTo := func(archive string, src Source, name string, rec record, entries map[string][]affectedEntry) error {
		b, ok := builders[archive]
		if !ok {
			var err error
			if b, err = newArchiveBuilder(dir, archive, src); err != nil {
				return err
			}
			builders[archive] = b
		}
		if err := b.add(rec, entries); err != nil {
			return fmt.Errorf("record %s: %w", name, err)
		}
		return nil
	}
	var cross []crossRecord
	now := time.Now().UTC().Truncate(time.Second)
	for _, src := range sources {
		if src.Name == "" {
			src.Name = src.Path
		}
		err := readSource(ctx, src.Path, func(name string, rec record, entries map[string][]affectedEntry) error {
			if len(entries) == 0 {
				return nil
			}
			if src.Archive != "" {
				return addTo(src.Archive, src, name, rec, entries)
			}
			byArchive := map[string]map[string][]affectedEntry{}
			for key, es := range entries {
				eco, _, _ := strings.Cut(key, "\x00")
				a := archiveOf(eco)
				if byArchive[a] == nil {
					byArchive[a] = map[string][]affectedEntry{}
				}
				byArchive[a][key] = es
			}
			if len(byArchive) > 1 {
				cross = append(cross, crossRecord{src, name, rec, byArchive})
				return nil
			}
			for a, es := range byArchive {
				return addTo(a, src, name, rec, es)
			}
			return nil
		})
		if err != nil {
			return abort(fmt.Errorf("import %s: %w", src.Name, err))
		}
	}
	for _, c := range cross {
		var replaced []string
		kept := map[string][]affectedEntry{} // entries of archives this import leaves as they are
		for a, es := range c.archives {
			if builders[a] != nil {
				replaced = append(replaced, a)
			} else {
				maps.Copy(kept, es)
			}
		}
		if len(replaced) == 0 {
			replaced, kept = slices.Collect(maps.Keys(c.archives)), nil
		}
		for _, a := range replaced {
			entries := maps.Clone(c.archives[a])
			maps.Copy(entries, kept)
			if err := addTo(a, c.src, c.name, c.rec, entries); err != nil {
				return abort(fmt.Errorf("import %s: %w", c.src.Name, err))
			}
		}
	}
	if len(builders) == 0 {
		return abort(fmt.Errorf("import: no OSV records with affected packages in %s", sourceNames(sources)))
	}
	var out []ArchiveStatus
	for _, b := range builders {
		st, err := b.finish(now)
		if err != nil {
			return abort(err)
		}
		out = append(out, st)
	}
	// Every archive is complete on disk; only now does any replace the old.
	for _, b := range builders {
		if err := os.Rename(b.tmpPath, b.finalPath); err != nil {
			return abort(fmt.Errorf("replace %s: %w", b.finalPath, err))
		}
		b.tmpPath = ""
	}
	syncDir(dir)
	sort.Slice(out, func(i, j int) bool { return out[i].Archive < out[j].Archive })
	return out, nil
}

func sourceNames(sources []Source) string {
	names := make([]string, 0, len(sources))
	for _, s := range sources {
		names = append(names, s.Path)
	}
	return strings.Join(names, ", ")
}

// removeStaleTemps deletes the temporary files of an update or an import
// that was killed (archive files being written, downloads): the caller holds
// the lock, which a writer holds while it has any, so no live process is
// writing them.
func removeStaleTemps(dir string) error {
	var stale []string
	for _, pattern := range []string{".*.tmp-*", downloadPattern} {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return err
		}
		stale = append(stale, matches...)
	}
	for _, m := range stale {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the leftover %s: %w", m, err)
		}
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// archiveBuilder writes one archive's new file beside the old one.
type archiveBuilder struct {
	archive   string
	src       Source
	tmpPath   string
	finalPath string
	db        *bolt.DB
	pending   []keyValue
	records   int
	packages  map[string][]affectedEntry
	// ecosystems are the archives the file gets entries of.
	ecosystems map[string]bool
	seen       map[string]seenRecord
}

type seenRecord struct {
	modified string
	keys     []string
}

// recordsPerTx bounds a write transaction, and so the memory it holds.
const recordsPerTx = 20_000

func newArchiveBuilder(dir, archive string, src Source) (*archiveBuilder, error) {
	if archive == "" || strings.ContainsAny(archive, `/\`) || strings.HasPrefix(archive, ".") {
		return nil, fmt.Errorf("ecosystem %q cannot name a database file", archive)
	}
	f, err := os.CreateTemp(dir, "."+archive+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create database file for %s: %w", archive, err)
	}
	tmp := f.Name()
	f.Close()
	// A large initial mapping spares re-mapping (and copying) as the file grows.
	b, err := bolt.Open(tmp, 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true, Timeout: time.Second, InitialMmapSize: 256 << 20})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("create database file for %s: %w", archive, err)
	}
	return &archiveBuilder{
		archive: archive, src: src, tmpPath: tmp, finalPath: filepath.Join(dir, archive+dbFileSuffix),
		db: b, packages: map[string][]affectedEntry{}, ecosystems: map[string]bool{},
		seen: map[string]seenRecord{},
	}, nil
}

// add files a record and its entries. A record the archive already has
// (two sources of one import both carry it) is kept once: its newest copy.
func (b *archiveBuilder) add(rec record, entries map[string][]affectedEntry) error {
	if prev, ok := b.seen[rec.ID]; ok {
		if rec.Modified <= prev.modified {
			return nil
		}
		for _, key := range prev.keys {
			b.packages[key] = slices.DeleteFunc(b.packages[key], func(e affectedEntry) bool { return e.ID == rec.ID })
		}
		b.records--
	}
	b.seen[rec.ID] = seenRecord{rec.Modified, slices.Collect(maps.Keys(entries))}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b.pending = append(b.pending, keyValue{rec.ID, data})
	for key, es := range entries {
		b.packages[key] = append(b.packages[key], es...)
		eco, _, _ := strings.Cut(key, "\x00")
		b.ecosystems[archiveOf(eco)] = true
	}
	b.records++
	if len(b.pending) >= recordsPerTx {
		return b.flush()
	}
	return nil
}

type keyValue struct {
	key   string
	value []byte
}

// flush writes the pending records in one transaction, in key order (a
// newer copy of a record after the older): bbolt inserts sorted keys by
// appending, random ones by copying page slices.
func (b *archiveBuilder) flush() error {
	if len(b.pending) == 0 {
		return nil
	}
	sort.SliceStable(b.pending, func(i, j int) bool { return b.pending[i].key < b.pending[j].key })
	err := b.db.Update(func(tx *bolt.Tx) error {
		bucket, err := tx.CreateBucketIfNotExists(bucketRecords)
		if err != nil {
			return err
		}
		for _, kv := range b.pending {
			if err := bucket.Put([]byte(kv.key), kv.value); err != nil {
				return err
			}
		}
		return nil
	})
	b.pending = b.pending[:0]
	if err != nil {
		return fmt.Errorf("write %s: %w", b.tmpPath, err)
	}
	return nil
}

// finish writes the package index and the metadata, and syncs the file.
func (b *archiveBuilder) finish(now time.Time) (ArchiveStatus, error) {
	st := ArchiveStatus{
		Archive: b.archive, Updated: now, Records: b.records, Packages: len(b.packages),
		Source: b.src.Name, ETag: b.src.ETag, LastModified: b.src.LastModified,
	}
	if err := b.flush(); err != nil {
		return st, err
	}
	keys := make([]string, 0, len(b.packages))
	for k := range b.packages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ecosystems, err := json.Marshal(slices.Sorted(maps.Keys(b.ecosystems)))
	if err != nil {
		return st, err
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketRecords); err != nil {
			return err
		}
		pkgs, err := tx.CreateBucketIfNotExists(bucketPackages)
		if err != nil {
			return err
		}
		pkgs.FillPercent = 1 // keys go in sorted: pack the pages full
		for _, k := range keys {
			es := b.packages[k]
			sort.Slice(es, func(i, j int) bool { return es[i].ID < es[j].ID })
			data, err := json.Marshal(es)
			if err != nil {
				return err
			}
			if err := pkgs.Put([]byte(k), data); err != nil {
				return err
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		for k, v := range map[string]string{
			"format": formatVersion, "archive": b.archive, "updated": now.Format(time.RFC3339),
			"records": strconv.Itoa(st.Records), "packages": strconv.Itoa(st.Packages),
			"source": st.Source, "etag": st.ETag, "last-modified": st.LastModified,
			"ecosystems": string(ecosystems),
		} {
			if err := meta.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = b.db.Sync()
	}
	if cerr := b.db.Close(); err == nil {
		err = cerr
	}
	b.db = nil
	if err != nil {
		return st, fmt.Errorf("write %s: %w", b.tmpPath, err)
	}
	packed, err := pack(b.tmpPath)
	if err != nil {
		return st, err
	}
	os.Remove(b.tmpPath)
	b.tmpPath = packed
	if err := writeChecksum(b.tmpPath); err != nil {
		return st, err
	}
	// CreateTemp made it private; readers (a build step, other users of a
	// shared cache) need to read it.
	if err := os.Chmod(b.tmpPath, 0o644); err != nil {
		return st, fmt.Errorf("write %s: %w", b.tmpPath, err)
	}
	return st, nil
}

func (b *archiveBuilder) discard() {
	if b.db != nil {
		b.db.Close()
	}
	if b.tmpPath != "" {
		os.Remove(b.tmpPath)
	}
}

// readSource parses every OSV record of a zip or a folder, in parallel, and
// hands each to add in turn. The first error stops it.
func readSource(ctx context.Context, path string, add func(name string, rec record, entries map[string][]affectedEntry) error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	// The zip stays open until readSource returns: the workers read from it.
	var zr *zip.ReadCloser
	if !fi.IsDir() {
		if zr, err = zip.OpenReader(path); err != nil {
			return fmt.Errorf("open zip: %w", err)
		}
		defer zr.Close()
	}
	// The producer lists records; the workers read (inflate) and parse them.
	type item struct {
		name string
		load func() ([]byte, error)
	}
	type parsed struct {
		name    string
		rec     record
		entries map[string][]affectedEntry
		err     error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan item, 64)
	results := make(chan parsed, 64)
	var produceErr error
	go func() {
		defer close(items)
		emit := func(name string, load func() ([]byte, error)) bool {
			select {
			case items <- item{name, load}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if zr != nil {
			produceErr = readZip(zr, emit)
		} else {
			produceErr = readFolder(ctx, path, emit)
		}
	}()
	var wg sync.WaitGroup
	var total atomic.Int64
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				p := parsed{name: it.name}
				data, err := it.load()
				switch {
				case err != nil:
					p.err = fmt.Errorf("record %s: %w", it.name, err)
				case total.Add(int64(len(data))) > maxZipBytes:
					p.err = fmt.Errorf("records inflate to more than %d bytes", int64(maxZipBytes))
				default:
					if p.rec, p.entries, err = parseRecord(data); err != nil {
						p.err = fmt.Errorf("record %s: %w", it.name, err)
					}
				}
				select {
				case results <- p:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	var firstErr error
	for p := range results {
		if firstErr != nil {
			continue
		}
		switch {
		case p.err != nil:
			firstErr = p.err
			cancel()
		case p.entries != nil:
			if err := add(p.name, p.rec, p.entries); err != nil {
				firstErr = err
				cancel()
			}
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if produceErr != nil {
		return produceErr
	}
	return ctx.Err()
}

// parseRecord reads one OSV JSON record into what the index keeps.
func parseRecord(data []byte) (record, map[string][]affectedEntry, error) {
	var v osvschema.Vulnerability
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &v); err != nil {
		return record{}, nil, fmt.Errorf("not an OSV record: %w", err)
	}
	return compact(&v)
}

func readZip(zr *zip.ReadCloser, emit func(string, func() ([]byte, error)) bool) error {
	if len(zr.File) > maxZipEntries {
		return fmt.Errorf("zip has %d entries, more than the %d allowed", len(zr.File), maxZipEntries)
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		if !emit(f.Name, func() ([]byte, error) { return readZipEntry(f) }) {
			return nil
		}
	}
	return nil
}

// readZipEntry reads an entry without trusting its declared size.
func readZipEntry(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > maxRecordSize {
		return nil, fmt.Errorf("%d bytes, more than the %d allowed for a record", f.UncompressedSize64, maxRecordSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The declared size sizes the buffer only up to a typical record: it
	// grows with the bytes actually inflated.
	buf := bytes.NewBuffer(make([]byte, 0, min(f.UncompressedSize64, 64<<10)+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(rc, maxRecordSize+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("inflates past the %d bytes allowed for a record", maxRecordSize)
	}
	return data, nil
}

func readFolder(ctx context.Context, dir string, emit func(string, func() ([]byte, error)) bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		if !emit(p, func() ([]byte, error) { return readRecordFile(p) }) {
			return filepath.SkipAll
		}
		return nil
	})
}

func readRecordFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("larger than the %d bytes allowed", maxRecordSize)
	}
	return data, nil
}
