package baseimage

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
	"strings"
	"time"

	"github.com/secure-build/secure-build/vuln"
)

// Cache keeps, on disk, what advice needs again: the scan of each candidate
// image, per image digest, database version and scanner version (an image
// by digest never changes, so only new data or a new scanner makes its scan
// stale), and each repository's tag list for a short while. Entries carry
// their key and a checksum of their content: an entry that does not hold
// what its name says is reported and rewritten, never used.
type Cache struct {
	Dir string
	// TagTTL is how long a tag list is used before the registry is asked
	// again.
	TagTTL time.Duration
}

// DefaultTagTTL is how long a tag list is kept: new tags are seen within
// minutes, and repeated runs do not list hundreds of tags again.
const DefaultTagTTL = 10 * time.Minute

// DefaultCache is the cache in the user's cache folder
// ($XDG_CACHE_HOME/secure-build/baseimage).
func DefaultCache() (*Cache, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("find the user cache folder for base-image scans: %w", err)
	}
	return &Cache{Dir: filepath.Join(dir, "secure-build", "baseimage"), TagTTL: DefaultTagTTL}, nil
}

// ScanResult is what advice keeps of an image's scan.
type ScanResult struct {
	// Distro is the image's distribution, "debian 12", "" when none was
	// found.
	Distro     string         `json:"distro,omitempty"`
	Findings   []vuln.Finding `json:"findings"`
	Incomplete []string       `json:"incomplete,omitempty"`
}

// CorruptError is a cache entry that cannot be used: unreadable, or not
// holding what its name says.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("cache entry %s is damaged (%s): ignored and rewritten", e.Path, e.Reason)
}

// maxEntrySize bounds what a cache entry may hold: the findings of one
// image scan are far less.
const maxEntrySize = 64 << 20

// entry is a cache file: its key, the checksum of its value, the value.
type entry struct {
	Key    string          `json:"key"`
	Sum    string          `json:"sha256"`
	Stored time.Time       `json:"stored"`
	Value  json.RawMessage `json:"value"`
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (c *Cache) path(kind, key string) string {
	return filepath.Join(c.Dir, kind, sum([]byte(key))[:32]+".json")
}

// get reads the entry of key into v: false when there is none; a
// CorruptError when the file is there and not an entry of key with a good
// checksum.
func (c *Cache) get(kind, key string, v any) (time.Time, bool, error) {
	path := c.path(kind, key)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, &CorruptError{Path: path, Reason: err.Error()}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxEntrySize+1))
	switch {
	case err != nil:
		return time.Time{}, false, &CorruptError{Path: path, Reason: err.Error()}
	case len(b) > maxEntrySize:
		return time.Time{}, false, &CorruptError{Path: path, Reason: fmt.Sprintf("larger than %d MiB", maxEntrySize>>20)}
	}
	var e entry
	switch {
	case json.Unmarshal(b, &e) != nil:
		return time.Time{}, false, &CorruptError{Path: path, Reason: "not JSON of a cache entry"}
	case e.Key != key:
		return time.Time{}, false, &CorruptError{Path: path, Reason: "it holds another key"}
	case e.Sum != sum(e.Value):
		return time.Time{}, false, &CorruptError{Path: path, Reason: "its checksum does not match its content"}
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return time.Time{}, false, &CorruptError{Path: path, Reason: err.Error()}
	}
	return e.Stored, true, nil
}

// put writes the entry of key whole or not at all (a temporary file
// renamed into place).
func (c *Cache) put(kind, key string, v any) error {
	value, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b, err := json.Marshal(entry{Key: key, Sum: sum(value), Stored: time.Now().UTC(), Value: value})
	if err != nil {
		return err
	}
	path := c.path(kind, key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("base-image cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("base-image cache: %w", err)
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("base-image cache: write %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("base-image cache: %w", err)
	}
	return nil
}

// scanKey is what a scan depends on.
func scanKey(digest, database, scanner string) string {
	return strings.Join([]string{"scan", digest, database, scanner}, "\x00")
}

// Scan is the cached scan of the image of digest with that database and
// scanner: nil when there is none.
func (c *Cache) Scan(digest, database, scanner string) (*ScanResult, error) {
	var r ScanResult
	_, ok, err := c.get("scans", scanKey(digest, database, scanner), &r)
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// PutScan keeps a scan.
func (c *Cache) PutScan(digest, database, scanner string, r *ScanResult) error {
	return c.put("scans", scanKey(digest, database, scanner), r)
}

// Tags is the tag list of repo listed less than TagTTL ago, else nil.
func (c *Cache) Tags(repo string, now time.Time) ([]string, error) {
	var tags []string
	stored, ok, err := c.get("tags", "tags\x00"+repo, &tags)
	if !ok || err != nil || now.Sub(stored) > c.TagTTL || stored.After(now) {
		return nil, err
	}
	return tags, nil
}

// PutTags keeps repo's tag list.
func (c *Cache) PutTags(repo string, tags []string) error {
	if tags == nil {
		tags = []string{}
	}
	return c.put("tags", "tags\x00"+repo, tags)
}

// DatabaseVersion names the state of a vulnerability database: each
// archive's name, update time and record count, so that any import or
// update changes it.
func DatabaseVersion(db *vuln.DB) string { return StatusVersion(db.Status()) }

// StatusVersion is DatabaseVersion of a database's archive statuses (as
// vuln.Statuses reads them, without opening it).
func StatusVersion(statuses []vuln.ArchiveStatus) string {
	var parts []string
	for _, s := range statuses {
		parts = append(parts, fmt.Sprintf("%s@%s/%d/%s", s.Archive, s.Updated.UTC().Format(time.RFC3339Nano), s.Records, s.ETag))
	}
	return sum([]byte(strings.Join(parts, "\n")))[:16]
}
