package sbom

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestStatInRootAsJoined: the kernel's resolution (openat2) sees what the
// walk in user space sees, for every kind of path a hostile image holds.
func TestStatInRootAsJoined(t *testing.T) {
	root, _ := linkedRoot(t)
	writeFile(t, root, "usr/bin/tool", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(root, "usr/bin/tool"), fs.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "etc/passwd"), old, old); err != nil {
		t.Fatal(err)
	}
	symlink(t, root, "/missing", "dangling")
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	dir, err := openRootDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.close()
	fsys := rootFS{root: root}
	names := []string{".", "etc", "etc/passwd", "usr/bin/tool", "abs", "lib/rel", "out", "etcdir", "etcdir/passwd",
		"outdir", "outdir/passwd", "loop/a", "dangling", "fifo", "etc/passwd/x", "nothing/here"}
	for _, held := range []*rootDir{nil, dir} {
		for _, name := range names {
			got, ok, gotErr := statInRoot(root, held, name)
			if !ok {
				t.Skip("openat2 is not available here")
			}
			want, wantErr := fsys.statJoined(name)
			if (gotErr == nil) != (wantErr == nil) || errors.Is(gotErr, fs.ErrNotExist) != errors.Is(wantErr, fs.ErrNotExist) {
				t.Errorf("Stat(%s): openat2 gives %v, the walk %v", name, gotErr, wantErr)
				continue
			}
			if gotErr != nil {
				var pe *fs.PathError
				if !errors.As(gotErr, &pe) || pe.Path != name {
					t.Errorf("Stat(%s) error %v does not name the path in the image", name, gotErr)
				}
				continue
			}
			if got.Mode() != want.Mode() || got.Size() != want.Size() || !got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() {
				t.Errorf("Stat(%s) = %v %d %v, the walk %v %d %v", name, got.Mode(), got.Size(), got.ModTime(), want.Mode(), want.Size(), want.ModTime())
			}
			gs, ws := got.Sys().(*syscall.Stat_t), want.Sys().(*syscall.Stat_t)
			if gs.Ino != ws.Ino || gs.Ctim != ws.Ctim {
				t.Errorf("Stat(%s): inode %d ctime %v, the walk %d %v", name, gs.Ino, gs.Ctim, ws.Ino, ws.Ctim)
			}
		}
	}
	// The image's own file, not the host's, through every kind of link.
	for _, name := range []string{"abs", "lib/rel", "etcdir/passwd"} {
		fi, err := fsys.Stat(name)
		if err != nil || fi.Size() != int64(len("image:x:0:0::/:/bin/sh\n")) {
			t.Errorf("Stat(%s) = %v, %v; want the image's /etc/passwd", name, fi, err)
		}
	}
	if fi, err := fsys.Stat("fifo"); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("Stat(fifo) = %v, %v; want a named pipe, without blocking", fi, err)
	}
	if fi, err := fsys.Stat("usr/bin/tool"); err != nil || fi.Mode() != fs.ModeSetuid|0o755 {
		t.Errorf("Stat(usr/bin/tool) = %v, %v; want setuid and 0755", fi, err)
	}
}

// TestStatInRootRenamesRacing: a lookup through ".." that a rename on the
// host raced (EAGAIN from openat2) is asked again, never taken for a file
// that is not there.
func TestStatInRootRenamesRacing(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "lib/libc.so", "libc")
	symlink(t, root, "../../libc.so", "lib/x/y/link")
	fsys := rootFS{root: root}
	if _, ok, _ := statInRoot(root, nil, "lib/x/y/link"); !ok {
		t.Skip("openat2 is not available here")
	}
	busy := t.TempDir()
	done := make(chan struct{})
	var renamers sync.WaitGroup
	for i := range 2 {
		renamers.Add(1)
		go func() {
			defer renamers.Done()
			a, b := filepath.Join(busy, fmt.Sprint("a", i)), filepath.Join(busy, fmt.Sprint("b", i))
			if err := os.WriteFile(a, nil, 0o644); err != nil {
				t.Error(err)
				return
			}
			for {
				select {
				case <-done:
					return
				default:
				}
				os.Rename(a, b)
				a, b = b, a
			}
		}()
	}
	defer func() { close(done); renamers.Wait() }()
	for i := range 20000 {
		if fi, err := fsys.Stat("lib/x/y/link"); err != nil || fi.Size() != 4 {
			t.Fatalf("stat %d of a link through .. while the host renames: %v, %v", i, fi, err)
		}
	}
}
