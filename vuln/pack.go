package vuln

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// packBatch is how many keys one write transaction of pack copies.
const packBatch = 20000

// pack copies the archive file src into a new file beside it, every
// bucket's keys in order into full pages, and returns the new file's path.
// Import packs what it writes (records go in a batch at a time as they parse,
// so their pages end half full); a build sends, hashes and mounts the
// smaller file.
func pack(src string) (string, error) {
	from, err := bolt.Open(src, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", src, err)
	}
	defer from.Close()
	f, err := os.CreateTemp(filepath.Dir(src), filepath.Base(src)+".packed-*")
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", src, err)
	}
	dst := f.Name()
	f.Close()
	to, err := bolt.Open(dst, 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true, Timeout: time.Second})
	if err != nil {
		os.Remove(dst)
		return "", fmt.Errorf("pack %s: %w", src, err)
	}
	err = from.View(func(rtx *bolt.Tx) error {
		return rtx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return copyBucket(to, name, b)
		})
	})
	if err == nil {
		err = to.Sync()
	}
	var size int64
	if err == nil {
		err = to.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	}
	if cerr := to.Close(); err == nil {
		err = cerr
	}
	// bbolt grows its file in steps of up to 16 MB and leaves the rest a
	// hole, which a copy or a transfer sends as zeros: cut it at the last
	// page in use.
	if err == nil {
		err = os.Truncate(dst, size)
	}
	if err != nil {
		os.Remove(dst)
		return "", fmt.Errorf("pack %s: %w", src, err)
	}
	return dst, nil
}

// copyBucket copies one top-level bucket of plain keys in key order.
func copyBucket(to *bolt.DB, name []byte, from *bolt.Bucket) error {
	c := from.Cursor()
	k, v := c.First()
	for {
		err := to.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			b.FillPercent = 1 // keys arrive in order: append into full pages
			for n := 0; k != nil && n < packBatch; n++ {
				if v == nil {
					return fmt.Errorf("bucket %s: nested bucket %q", name, k)
				}
				if err := b.Put(k, v); err != nil {
					return err
				}
				k, v = c.Next()
			}
			return nil
		})
		if err != nil || k == nil {
			return err
		}
	}
}
