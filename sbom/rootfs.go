package sbom

import (
	"errors"
	"io/fs"
	"os"
	"path"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// errSpecialFile is returned for devices, fifos and sockets: opening one could
// block the scan or touch hardware, and none of them holds package data.
var errSpecialFile = errors.New("not a regular file or directory")

// rootFS is an fs.FS over a root filesystem taken from someone else's image.
// Every path, and every symlink on it, resolves as if the root were "/": a link
// to /etc/passwd reads the image's /etc/passwd, a "../../.." climbs no higher
// than the root, and a loop ends with an error. Only regular files and
// directories are opened. It implements the FS interface osv-scalibr's
// extractors read sibling files through.
type rootFS struct {
	root string
	// dir, when not nil, is root held open for Stat.
	dir *rootDir
}

func (r rootFS) resolve(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p, err := securejoin.SecureJoin(r.root, name)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: unwrapPathError(err)}
	}
	return p, nil
}

func (r rootFS) Open(name string) (fs.File, error) {
	p, err := r.resolve("open", name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errSpecialFile}
	}
	f, err := os.OpenFile(p, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
	}
	return f, nil
}

func (r rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := r.resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPathError(err)}
	}
	return entries, nil
}

func (r rootFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if fi, ok, err := statInRoot(r.root, r.dir, name); ok {
		return fi, err
	}
	return r.statJoined(name)
}

// statJoined is Stat resolving in user space, a component at a time.
func (r rootFS) statJoined(name string) (fs.FileInfo, error) {
	p, err := r.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	// The resolved path holds no symlinks, so Lstat sees what Open would open.
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: unwrapPathError(err)}
	}
	return fi, nil
}

// ReadFile reads a whole file through the root's rules.
func (r rootFS) ReadFile(name string) ([]byte, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return readBounded(f, name, maxMetadataFileSize)
}

// unwrapPathError drops the host path from an error so that messages name the
// path inside the image, not where it was unpacked.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// slashPath turns a path relative to the root into the absolute path a user
// of the image sees.
func slashPath(rel string) string {
	return path.Join("/", rel)
}
