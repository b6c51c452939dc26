package vuln

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The database is a folder with one bbolt file per OSV archive
// ("Debian.db", "Go.db"), each replaced whole by an update, so a reader sees
// an archive's old data or its new data, never a mix. Each file holds:
//
//	meta     what was imported, when, from where (and the HTTP validators)
//	packages "<ecosystem>\x00<name>" -> the affected entries naming it
//	records  id -> the record's ids, summary and rating
var (
	bucketMeta     = []byte("meta")
	bucketPackages = []byte("packages")
	bucketRecords  = []byte("records")
)

const (
	dbFileSuffix = ".db"
	// formatVersion changes when the layout does; an older file must be
	// imported again.
	formatVersion = "1"
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
	dir      string
	archives map[string]*bolt.DB
	status   map[string]ArchiveStatus
}

// Open opens every archive file in dir read-only. A folder with none is
// ErrNoDatabase, with how to get one.
func Open(dir string) (*DB, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open vulnerability database %s: %w", dir, err)
	}
	db := &DB{dir: dir, archives: map[string]*bolt.DB{}, status: map[string]ArchiveStatus{}}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, dbFileSuffix) || strings.HasPrefix(name, ".") {
			continue
		}
		archive := strings.TrimSuffix(name, dbFileSuffix)
		path := filepath.Join(dir, name)
		b, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
		}
		st, err := readStatus(b, archive)
		if err != nil {
			b.Close()
			db.Close()
			return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
		}
		db.archives[archive] = b
		db.status[archive] = st
	}
	if len(db.archives) == 0 {
		return nil, fmt.Errorf("%w in %s: run 'docker secure db update' to download OSV data, or 'docker secure db import FILE.zip' to import it offline (or name another folder with --db)", ErrNoDatabase, dir)
	}
	return db, nil
}

// Close releases the archive files.
func (db *DB) Close() error {
	var errs []error
	for _, b := range db.archives {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}

// Dir is the database folder.
func (db *DB) Dir() string { return db.dir }

// Status lists the imported archives by name.
func (db *DB) Status() []ArchiveStatus {
	out := make([]ArchiveStatus, 0, len(db.status))
	for _, s := range db.status {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Archive < out[j].Archive })
	return out
}

// Oldest is the update time of the least recently updated archive.
func (db *DB) Oldest() time.Time {
	var oldest time.Time
	for _, s := range db.status {
		if oldest.IsZero() || s.Updated.Before(oldest) {
			oldest = s.Updated
		}
	}
	return oldest
}

// DefaultMaxAge is how old the database may be before every scan warns.
const DefaultMaxAge = 7 * 24 * time.Hour

// Age is how long ago the least recently updated archive was imported.
func (db *DB) Age(now time.Time) time.Duration {
	return now.Sub(db.Oldest())
}

func readStatus(b *bolt.DB, archive string) (ArchiveStatus, error) {
	st := ArchiveStatus{Archive: archive}
	err := b.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketPackages) == nil || tx.Bucket(bucketRecords) == nil {
			return errors.New("not a secure-build database file (no meta, packages or records bucket)")
		}
		if v := string(meta.Get([]byte("format"))); v != formatVersion {
			return fmt.Errorf("database format %q, this secure-build reads %q: import the data again", v, formatVersion)
		}
		updated, err := time.Parse(time.RFC3339, string(meta.Get([]byte("updated"))))
		if err != nil {
			return fmt.Errorf("bad update time: %w", err)
		}
		st.Updated = updated
		st.Records, _ = strconv.Atoi(string(meta.Get([]byte("records"))))
		st.Packages, _ = strconv.Atoi(string(meta.Get([]byte("packages"))))
		st.Source = string(meta.Get([]byte("source")))
		st.ETag = string(meta.Get([]byte("etag")))
		st.LastModified = string(meta.Get([]byte("last-modified")))
		return nil
	})
	return st, err
}

// entries returns the affected entries of a package, nil when OSV has none
// or the archive was not imported.
func (db *DB) entries(ecosystem, name string) ([]affectedEntry, error) {
	b, ok := db.archives[archiveOf(ecosystem)]
	if !ok {
		return nil, nil
	}
	var out []affectedEntry
	key := []byte(packageKey(ecosystem, name))
	err := b.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPackages).Get(key)
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &out)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s package %s from %s: %w", ecosystem, name, db.dir, err)
	}
	return out, nil
}

// record returns a record by id from the archive of ecosystem.
func (db *DB) record(ecosystem, id string) (record, error) {
	var rec record
	b, ok := db.archives[archiveOf(ecosystem)]
	if !ok {
		return rec, fmt.Errorf("no %s archive", archiveOf(ecosystem))
	}
	err := b.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("record %s is indexed but missing", id)
		}
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return rec, fmt.Errorf("read record %s from %s: %w", id, db.dir, err)
	}
	return rec, nil
}

// Archives lists the archives imported.
func (db *DB) Archives() []string {
	out := make([]string, 0, len(db.archives))
	for a := range db.archives {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
