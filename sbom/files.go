package sbom

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Files reads single files of a root filesystem: what packages one file
// holds, with the extractors and the distribution a whole catalog of that
// root would use. It lets a caller follow the files of one catalog through
// other roots (the states a build went through) without walking each of
// them. Not safe for concurrent use.
type Files struct {
	c *cataloger
}

// OpenFiles prepares root for reading file by file.
func OpenFiles(ctx context.Context, root string) (*Files, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	extractors, err := newExtractors()
	if err != nil {
		return nil, err
	}
	dir, err := openRootDir(abs)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	c := &cataloger{
		ctx:        ctx,
		root:       abs,
		fsys:       rootFS{root: abs, dir: dir},
		extractors: extractors,
		sem:        make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	c.distro = c.readDistro()
	return &Files{c: c}, nil
}

// Close lets go of the root.
func (f *Files) Close() error {
	return f.c.fsys.dir.close()
}

// Stat stats location (an absolute path in the root, as Package.Locations
// hold) where the container would find it: symlinks resolve inside the
// root.
func (f *Files) Stat(location string) (fs.FileInfo, error) {
	return f.c.fsys.Stat(strings.TrimPrefix(location, "/"))
}

// Packages are the purls of the packages the extractors find in the file
// at location, and what they could not read there. A file that is not
// there holds none.
func (f *Files) Packages(location string) ([]string, []Incompleteness) {
	c := f.c
	c.found, c.gaps, c.seen = map[string]*Package{}, nil, map[string]bool{}
	rel := strings.TrimPrefix(location, "/")
	info, err := c.fsys.Stat(rel)
	switch {
	case err != nil && isNotExist(err):
		return nil, nil
	case err != nil:
		return nil, []Incompleteness{{Path: location, Reason: unwrapPathError(err).Error()}}
	case !info.Mode().IsRegular():
		return nil, nil
	}
	c.extract(&resolvedFile{path: rel, info: info}, c.opener(rel), "")
	purls := make([]string, 0, len(c.found))
	for p := range c.found {
		purls = append(purls, p)
	}
	return purls, SortGaps(c.gaps)
}

// isNotExist says that a path is not there: missing, or a file where a
// folder on its way should be.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
