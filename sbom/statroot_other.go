//go:build !linux

package sbom

import "io/fs"

// rootDir is a root folder held open; only Linux's openat2 uses one.
type rootDir struct{}

func openRootDir(string) (*rootDir, error) { return nil, nil }

func (d *rootDir) close() error { return nil }

// statInRoot is openat2's way, which only Linux has.
func statInRoot(string, *rootDir, string) (fi fs.FileInfo, ok bool, err error) {
	return nil, false, nil
}
