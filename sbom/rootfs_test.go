//go:build unix

package sbom

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// linkedRoot is a root whose etc/passwd is reached through every kind of
// link a hostile image holds: absolute (abs, etcdir), relative climbing past
// the root (lib/rel), out of it (out, outdir), and a loop (loop/a, loop/b).
// outside holds the host's passwd those links must never reach.
func linkedRoot(t *testing.T) (root, outside string) {
	t.Helper()
	outside = t.TempDir()
	writeFile(t, outside, "passwd", "outside:x:0:0::/:/bin/sh\n")
	root = t.TempDir()
	writeFile(t, root, "etc/passwd", "image:x:0:0::/:/bin/sh\n")
	symlink(t, root, "/etc/passwd", "abs")
	symlink(t, root, "../../../../../../../../etc/passwd", "lib/rel")
	symlink(t, root, outside+"/passwd", "out")
	symlink(t, root, "/etc", "etcdir")
	symlink(t, root, outside, "outdir")
	symlink(t, root, "b", "loop/a")
	symlink(t, root, "a", "loop/b")
	return root, outside
}

// TestRootFSSymlinks: every link resolves with the root as "/".
func TestRootFSSymlinks(t *testing.T) {
	root, _ := linkedRoot(t)
	fsys := rootFS{root: root}

	for _, name := range []string{"etc/passwd", "abs", "lib/rel", "etcdir/passwd"} {
		b, err := fsys.ReadFile(name)
		if err != nil || string(b) != "image:x:0:0::/:/bin/sh\n" {
			t.Errorf("ReadFile(%s) = %q, %v; want the image's /etc/passwd", name, b, err)
		}
	}
	// Links out of the root land on the root's copy of their target: here
	// there is none.
	for _, name := range []string{"out", "outdir/passwd"} {
		if b, err := fsys.ReadFile(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%s) = %q, %v; want not-exist", name, b, err)
		}
	}
	if _, err := fsys.ReadDir("outdir"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir(outdir): %v, want not-exist", err)
	}
	entries, err := fsys.ReadDir("etcdir")
	if err != nil || len(entries) != 1 || entries[0].Name() != "passwd" {
		t.Errorf("ReadDir(etcdir) = %v, %v; want [passwd]", entries, err)
	}
	// Stat sees the target, as Open would.
	if fi, err := fsys.Stat("abs"); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("Stat(abs) = %v, %v; want a regular file", fi, err)
	}
	// A loop ends with an error.
	for _, name := range []string{"loop/a", "loop/b"} {
		if _, err := fsys.Open(name); err == nil {
			t.Errorf("Open(%s) of a symlink loop succeeded", name)
		} else if strings.Contains(err.Error(), root) {
			t.Errorf("Open(%s): error names the host path: %v", name, err)
		}
	}
	// Names are fs.FS names: no climbing, no absolute paths.
	for _, name := range []string{"../etc/passwd", "/etc/passwd", "etc/../../passwd", ""} {
		if _, err := fsys.Open(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): %v, want fs.ErrInvalid", name, err)
		}
	}
}

func TestRootFSSpecialFiles(t *testing.T) {
	root := t.TempDir()
	mkfifo(t, root, "fifo")
	symlink(t, root, "/fifo", "tofifo")
	writeFile(t, root, "dir/file", "x")
	fsys := rootFS{root: root}
	for _, name := range []string{"fifo", "tofifo"} {
		if _, err := fsys.Open(name); !errors.Is(err, errSpecialFile) {
			t.Errorf("Open(%s): %v, want errSpecialFile", name, err)
		}
		if _, err := fsys.ReadFile(name); !errors.Is(err, errSpecialFile) {
			t.Errorf("ReadFile(%s): %v, want errSpecialFile", name, err)
		}
	}
	if os.Geteuid() == 0 {
		if err := syscall.Mknod(filepath.Join(root, "zero"), syscall.S_IFCHR|0o644, 1<<8|5); err == nil {
			if _, err := fsys.Open("zero"); !errors.Is(err, errSpecialFile) {
				t.Errorf("Open(zero) of a character device: %v, want errSpecialFile", err)
			}
		}
	}
	if _, err := fsys.ReadFile("dir"); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
	if f, err := fsys.Open("dir"); err != nil {
		t.Errorf("Open(dir): %v", err)
	} else {
		f.Close()
	}
}

func TestRootFSReadFileBounded(t *testing.T) {
	root := t.TempDir()
	sparse(t, root, "big", "", maxMetadataFileSize+1)
	sparse(t, root, "limit", "", maxMetadataFileSize)
	fsys := rootFS{root: root}
	if _, err := fsys.ReadFile("big"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadFile of a file over maxMetadataFileSize: %v", err)
	}
	if b, err := fsys.ReadFile("limit"); err != nil || len(b) != maxMetadataFileSize {
		t.Errorf("ReadFile of a file at maxMetadataFileSize: %d bytes, %v", len(b), err)
	}
}

// TestRootFSConforms runs the standard library's fs.FS conformance checks
// over a tree without links.
func TestRootFSConforms(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"etc/os-release":      debianOSRelease,
		"var/lib/dpkg/status": dpkgStatus,
		"usr/share/doc/x":     "",
	})
	if err := fstest.TestFS(rootFS{root: root}, "etc/os-release", "var/lib/dpkg/status", "usr/share/doc/x"); err != nil {
		t.Error(err)
	}
}

func TestReadBounded(t *testing.T) {
	if b, err := readBounded(strings.NewReader("12345"), "f", 5); err != nil || string(b) != "12345" {
		t.Errorf("readBounded at the limit = %q, %v", b, err)
	}
	if _, err := readBounded(strings.NewReader("123456"), "/a/f", 5); err == nil || !strings.Contains(err.Error(), "/a/f") {
		t.Errorf("readBounded over the limit: %v, want an error naming the file", err)
	}
}
