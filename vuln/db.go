package vuln

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The database is a folder with one bbolt file per OSV archive
// ("Debian.db", "Go.db"), each replaced whole by an update of that archive
// and by nothing else, so a reader sees an archive's old data or its new
// data, never a mix. A file holds the records its archive published, with
// the entries of every ecosystem they name (a record of PyPI's archive may
// name npm too): a lookup reads every file holding entries of the package's
// ecosystem. Each file holds:
//
//	meta     what was imported, when, from where (and the HTTP validators),
//	         and the ecosystems the file has entries of
//	packages "<ecosystem>\x00<name>" -> the affected entries naming it
//	records  id -> the record's ids, summary and rating
//
// and ends with a checksum trailer (see checksum.go).
var (
	bucketMeta     = []byte("meta")
	bucketPackages = []byte("packages")
	bucketRecords  = []byte("records")
)

const (
	dbFileSuffix = ".db"
	// formatVersion changes when the layout does; an older file must be
	// imported again.
	formatVersion = "2"
)

// ErrNoDatabase says there is no database where one was looked for.
var ErrNoDatabase = errors.New("no vulnerability database")

// DefaultDir is where the database lives unless told otherwise:
// $SECURE_BUILD_DB, else the user's cache folder ($XDG_CACHE_HOME/secure-build/db).
func DefaultDir() (string, error) {
	if d := os.Getenv("SECURE_BUILD_DB"); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the vulnerability database folder: %w (set SECURE_BUILD_DB or --db)", err)
	}
	return filepath.Join(cache, "secure-build", "db"), nil
}

// ArchiveStatus describes one imported OSV archive.
type ArchiveStatus struct {
	Archive  string    `json:"archive"`
	Updated  time.Time `json:"updated"`
	Records  int       `json:"records"`
	Packages int       `json:"packages"`
	Source   string    `json:"source"`
	// ETag and LastModified are the HTTP validators of the downloaded
	// archive, sent back by the next update.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// DB is an open, read-only view of the database folder. It works on a
// read-only copy of the folder, as mounted inside a build step.
type DB struct {
	dir   string
	files map[string]*archiveFile
	// holders lists, for each archive name, the files holding entries of its
	// ecosystems: its own file first, then the files whose records also
	// name it (a GHSA record in PyPI's archive that names npm too).
	holders map[string][]*archiveFile
	// skipped are the archives of a compressed database a scan needed no
	// entry of, left compressed (Expander), by when each was updated.
	skipped map[string]time.Time
}

// archiveFile is one open archive file.
type archiveFile struct {
	name   string
	path   string
	bolt   *bolt.DB
	status ArchiveStatus
	// ecosystems are the archives the file has package entries of.
	ecosystems []string
}

// Archives lists the archives of the database in dir, by name (Debian,
// npm), without opening them; a folder with none is ErrNoDatabase, with how
// to get one.
func Archives(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open vulnerability database %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, dbFileSuffix) || strings.HasPrefix(name, ".") {
			continue
		}
		names = append(names, strings.TrimSuffix(name, dbFileSuffix))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w in %s: run 'docker secure db update' to download OSV data, or 'docker secure db import FILE.zip' to import it offline (or name another folder with --db)", ErrNoDatabase, dir)
	}
	return names, nil
}

// Open opens every archive file in dir read-only, after checking each
// file's checksum: a damaged file is a CorruptError naming it and how to get
// it back. A folder with none is ErrNoDatabase, with how to get one.
func Open(dir string) (*DB, error) {
	names, err := Archives(dir)
	if err != nil {
		return nil, err
	}
	return openFiles(dir, names, openArchive)
}

// openFiles opens the archives names of the folder dir with open.
func openFiles(dir string, names []string, open func(path, archive string) (*archiveFile, error)) (*DB, error) {
	// Checking a file reads all of it: the files are checked in parallel.
	files := make([]*archiveFile, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			files[i], errs[i] = open(filepath.Join(dir, name+dbFileSuffix), name)
		}()
	}
	wg.Wait()
	db := &DB{dir: dir, files: map[string]*archiveFile{}, holders: map[string][]*archiveFile{}, skipped: map[string]time.Time{}}
	for _, f := range files {
		if f != nil {
			db.files[f.name] = f
		}
	}
	if err := errors.Join(errs...); err != nil {
		db.Close()
		return nil, err
	}
	for _, f := range files {
		for _, eco := range f.ecosystems {
			db.holders[eco] = append(db.holders[eco], f)
		}
	}
	for eco, hs := range db.holders {
		sort.Slice(hs, func(i, j int) bool {
			if (hs[i].name == eco) != (hs[j].name == eco) {
				return hs[i].name == eco
			}
			return hs[i].name < hs[j].name
		})
	}
	return db, nil
}

// Statuses reads what each archive of the database in dir holds without
// checking the files' checksums, which reads them whole: enough to name the
// database's state (a cache key), never to match against; Open checks.
func Statuses(dir string) ([]ArchiveStatus, error) {
	names, err := Archives(dir)
	if err != nil {
		return nil, err
	}
	out := make([]ArchiveStatus, 0, len(names))
	for _, name := range names {
		f, err := openBolt(filepath.Join(dir, name+dbFileSuffix), name)
		if err != nil {
			return nil, err
		}
		f.bolt.Close()
		out = append(out, f.status)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Archive < out[j].Archive })
	return out, nil
}

// openArchive checks an archive file's checksum, then opens it.
func openArchive(path, archive string) (*archiveFile, error) {
	if err := verifyChecksum(path); err != nil {
		return nil, &CorruptError{Path: path, Archive: archive, Reason: err}
	}
	return openBolt(path, archive)
}

// openBolt opens an archive file read-only and reads its metadata.
func openBolt(path, archive string) (*archiveFile, error) {
	b, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	f := &archiveFile{name: archive, path: path, bolt: b}
	if err := f.readMeta(); err != nil {
		b.Close()
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	return f, nil
}

// CorruptError says an archive file is damaged, and how to get it back.
type CorruptError struct {
	Path    string
	Archive string
	Reason  error
}

func (e *CorruptError) Error() string {
	eco := e.Archive
	if strings.ContainsAny(eco, " '\"") {
		eco = "'" + strings.ReplaceAll(eco, "'", `'\''`) + "'"
	}
	return fmt.Sprintf("vulnerability database file %s is damaged (%v): run 'docker secure db update --ecosystem %s' to download it again, or 'docker secure db import' with its OSV data", e.Path, e.Reason, eco)
}

func (e *CorruptError) Unwrap() error { return e.Reason }

// view runs fn in a read transaction of the file. The checksum was right
// when the file was opened, but a page damaged since (the disk, another
// program writing the file in place) makes bbolt panic or read past the
// mapped file: either is a CorruptError naming the file, not a crash.
func (f *archiveFile) view(fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &CorruptError{Path: f.path, Archive: f.name, Reason: fmt.Errorf("bbolt: %v", r)}
		}
	}()
	return f.bolt.View(fn)
}

// Close releases the archive files.
func (db *DB) Close() error {
	var errs []error
	for _, f := range db.files {
		errs = append(errs, f.bolt.Close())
	}
	return errors.Join(errs...)
}

// Dir is the database folder.
func (db *DB) Dir() string { return db.dir }

// Status lists the imported archives by name.
func (db *DB) Status() []ArchiveStatus {
	out := make([]ArchiveStatus, 0, len(db.files))
	for _, f := range db.files {
		out = append(out, f.status)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Archive < out[j].Archive })
	return out
}

// Updated is when each archive was last imported, by archive name: what a
// report says of the data a scan used.
func (db *DB) Updated() map[string]time.Time {
	out := maps.Clone(db.skipped)
	for _, f := range db.files {
		out[f.status.Archive] = f.status.Updated
	}
	return out
}

// Oldest is the update time of the least recently updated archive.
func (db *DB) Oldest() time.Time { return OldestUpdate(db.Updated()) }

// OldestUpdate is the earliest of the update times of Updated: how old a
// database is, from a report of it.
func OldestUpdate(updated map[string]time.Time) time.Time {
	var oldest time.Time
	for _, t := range updated {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest
}

// DefaultMaxAge is how old the database may be before every scan warns.
const DefaultMaxAge = 7 * 24 * time.Hour

func (f *archiveFile) readMeta() error {
	st := ArchiveStatus{Archive: f.name}
	err := f.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketPackages) == nil || tx.Bucket(bucketRecords) == nil {
			return errors.New("not a secure-build database file (no meta, packages or records bucket)")
		}
		if v := string(meta.Get([]byte("format"))); v != formatVersion {
			return fmt.Errorf("database format %q, this secure-build reads %q: import the data again with 'docker secure db update' or 'docker secure db import'", v, formatVersion)
		}
		updated, err := time.Parse(time.RFC3339, string(meta.Get([]byte("updated"))))
		if err != nil {
			return fmt.Errorf("bad update time: %w", err)
		}
		if err := json.Unmarshal(meta.Get([]byte("ecosystems")), &f.ecosystems); err != nil {
			return fmt.Errorf("bad list of ecosystems: %w", err)
		}
		st.Updated = updated
		st.Records, _ = strconv.Atoi(string(meta.Get([]byte("records"))))
		st.Packages, _ = strconv.Atoi(string(meta.Get([]byte("packages"))))
		st.Source = string(meta.Get([]byte("source")))
		st.ETag = string(meta.Get([]byte("etag")))
		st.LastModified = string(meta.Get([]byte("last-modified")))
		return nil
	})
	f.status = st
	return err
}

// entries returns the affected entries of a package from every file that
// holds entries of its ecosystem, nil when OSV has none or no such archive
// was imported. A record held by several files (OSV publishes a record that
// names npm and PyPI in both archives) counts once: its newest copy.
func (db *DB) entries(ecosystem, name string) ([]affectedEntry, error) {
	key := []byte(packageKey(ecosystem, name))
	holders := db.holders[archiveOf(ecosystem)]
	var out []affectedEntry
	for _, f := range holders {
		var es []affectedEntry
		err := f.view(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketPackages).Get(key)
			if v == nil {
				return nil
			}
			if err := json.Unmarshal(v, &es); err != nil {
				return &CorruptError{Path: f.path, Archive: f.name, Reason: fmt.Errorf("package %s: %w", key, err)}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s package %s: %w", ecosystem, name, err)
		}
		for i := range es {
			es[i].archive = f.name
		}
		out = append(out, es...)
	}
	if len(holders) < 2 {
		return out, nil
	}
	return db.newestCopies(out)
}

// newestCopies keeps, of each record whose entries came from several files,
// the entries of the file with its newest copy (by its modified time, then
// the file imported last).
func (db *DB) newestCopies(entries []affectedEntry) ([]affectedEntry, error) {
	from := map[string]map[string]bool{}
	for _, e := range entries {
		if from[e.ID] == nil {
			from[e.ID] = map[string]bool{}
		}
		from[e.ID][e.archive] = true
	}
	owner := map[string]string{}
	for id, archives := range from {
		if len(archives) < 2 {
			continue
		}
		var best *archiveFile
		var bestModified string
		for _, a := range slices.Sorted(maps.Keys(archives)) {
			rec, err := db.record(a, id)
			if err != nil {
				return nil, err
			}
			f := db.files[a]
			if best == nil || rec.Modified > bestModified || rec.Modified == bestModified && f.status.Updated.After(best.status.Updated) {
				best, bestModified = f, rec.Modified
			}
		}
		owner[id] = best.name
	}
	if len(owner) == 0 {
		return entries, nil
	}
	kept := entries[:0]
	for _, e := range entries {
		if o, ok := owner[e.ID]; !ok || o == e.archive {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// record returns a record by id from an archive file.
func (db *DB) record(archive, id string) (record, error) {
	var rec record
	f, ok := db.files[archive]
	if !ok {
		return rec, fmt.Errorf("no %s archive", archive)
	}
	err := f.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get([]byte(id))
		if v == nil {
			return &CorruptError{Path: f.path, Archive: f.name, Reason: fmt.Errorf("record %s is indexed but missing", id)}
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return &CorruptError{Path: f.path, Archive: f.name, Reason: fmt.Errorf("record %s: %w", id, err)}
		}
		return nil
	})
	if err != nil {
		return rec, fmt.Errorf("read record %s: %w", id, err)
	}
	return rec, nil
}

// Archives lists the archives imported.
func (db *DB) Archives() []string {
	return slices.Sorted(maps.Keys(db.files))
}
