package sbom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/osv-scalibr/extractor/filesystem"
	scalibrfs "github.com/google/osv-scalibr/fs"
	"github.com/google/osv-scalibr/inventory"
)

// maxRPMDatabaseBytes bounds the copy of an rpm database and its
// journals. Fedora's with a desktop installed is about 100 MB. In the scan
// step the copy and its checked rewrite live in a tmpfs, that is memory.
const maxRPMDatabaseBytes = 256 << 20

// rpmDatabase copies an rpm database, with an sqlite database's
// write-ahead log and rollback journal, into a private folder, reads its
// package headers there with bounds and checks (see rpmdb.go), and has
// osv-scalibr's extractor read a new sqlite database of the checked headers
// alone. SQLite opens a database in WAL mode read-write, to make its
// shared-memory file; on the scan step's read-only mount that fails and no
// package was read. The copy is also what the container would read: the
// log's committed transactions applied.
type rpmDatabase struct {
	filesystem.Extractor
}

func (r rpmDatabase) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	dir, err := os.MkdirTemp("", "secure-build-rpmdb-")
	if err != nil {
		return inventory.Inventory{}, fmt.Errorf("copy %s: %w", slashPath(in.Path), err)
	}
	defer os.RemoveAll(dir)
	copied := filepath.Join(dir, "copy")
	budget := int64(maxRPMDatabaseBytes)
	if err := copyBounded(in.Reader, filepath.Join(copied, filepath.FromSlash(in.Path)), &budget); err != nil {
		return inventory.Inventory{}, fmt.Errorf("copy %s: %w", slashPath(in.Path), err)
	}
	for _, suffix := range []string{"-wal", "-journal"} {
		name := in.Path + suffix
		f, err := in.FS.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return inventory.Inventory{}, fmt.Errorf("copy %s: %w", slashPath(name), unwrapPathError(err))
		}
		err = copyBounded(f, filepath.Join(copied, filepath.FromSlash(name)), &budget)
		f.Close()
		if err != nil {
			return inventory.Inventory{}, fmt.Errorf("copy %s: %w", slashPath(name), err)
		}
	}
	checked := filepath.Join(dir, "checked")
	size := maxRPMDatabaseBytes - budget
	if err := writeCleanRPMDatabase(ctx, filepath.Join(copied, filepath.FromSlash(in.Path)), filepath.Join(checked, filepath.FromSlash(in.Path)), size); err != nil {
		// Name the file in the image, not its copy.
		return inventory.Inventory{}, fmt.Errorf("read rpm database %s: %s", slashPath(in.Path), strings.ReplaceAll(err.Error(), dir, ""))
	}
	checkedIn := *in
	checkedIn.Root = checked
	checkedIn.FS = withoutOSRelease{in.FS}
	inv, err := r.extract(ctx, &checkedIn)
	if err != nil {
		err = errors.New(strings.ReplaceAll(err.Error(), checked, ""))
	}
	return inv, err
}

// extract runs osv-scalibr's extractor, turning a panic in go-rpmdb's
// parsing of a header into an error naming the file.
func (r rpmDatabase) extract(ctx context.Context, in *filesystem.ScanInput) (inv inventory.Inventory, err error) {
	defer func() {
		if p := recover(); p != nil {
			inv, err = inventory.Inventory{}, fmt.Errorf("read rpm database %s: go-rpmdb panicked: %v", slashPath(in.Path), p)
		}
	}()
	return r.Extractor.Extract(ctx, in)
}

// copyBounded copies r to a new file at dst, taking its bytes from budget:
// more than budget is an error, found by the bytes read.
func copyBounded(r io.Reader, dst string, budget *int64) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, *budget+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n > *budget {
		return fmt.Errorf("the database is larger than %d bytes", int64(maxRPMDatabaseBytes))
	}
	*budget -= n
	return nil
}

// withoutOSRelease hides the root's os-release from osv-scalibr's rpm
// extractor: it reads it with a parser that panics on a lone quote, for
// metadata the catalog takes from its own reading of the file.
type withoutOSRelease struct {
	scalibrfs.FS
}

func (w withoutOSRelease) hidden(name string) bool {
	return name == "etc/os-release" || name == "usr/lib/os-release"
}

func (w withoutOSRelease) Open(name string) (fs.File, error) {
	if w.hidden(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return w.FS.Open(name)
}

func (w withoutOSRelease) Stat(name string) (fs.FileInfo, error) {
	if w.hidden(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return w.FS.Stat(name)
}
