package sbom

import (
	"errors"
	"io/fs"
	"path"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// noOpenat2 is set once openat2 is found missing (a kernel before 5.6) or
// refused (a seccomp profile that predates it): the walk in user space
// is used from then on.
var noOpenat2 atomic.Bool

// openat2Tries is how many times a lookup a race interrupted is asked again.
const openat2Tries = 32

// rootDir is a root folder held open, so that each lookup in it starts
// there instead of walking the root's own host path again.
type rootDir struct {
	fd int
}

func openRootDir(root string) (*rootDir, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	return &rootDir{fd: fd}, nil
}

func (d *rootDir) close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// statInRoot stats name with the kernel resolving every symlink on its way
// as if root were "/" (openat2's RESOLVE_IN_ROOT): one lookup of the path,
// where resolving in user space costs an lstat of every prefix of the whole
// host path. dir, when not nil, is root held open. ok is false when openat2
// cannot be used here.
func statInRoot(root string, dir *rootDir, name string) (fi fs.FileInfo, ok bool, err error) {
	if noOpenat2.Load() {
		return nil, false, nil
	}
	if dir == nil {
		d, err := openRootDir(root)
		if err != nil {
			return nil, true, &fs.PathError{Op: "stat", Path: name, Err: unwrapPathError(err)}
		}
		defer d.close()
		dir = d
	}
	how := &unix.OpenHow{
		// O_PATH opens nothing: a fifo does not block, a device is not
		// touched.
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(dir.fd, name, how)
	// With ".." on the way, the kernel answers EAGAIN (or EXDEV) when any
	// rename or mount on the host raced the lookup: a busy builder does
	// both all the time. That says nothing of the path, so ask again, and
	// past a few tries let the walk in user space answer.
	for try := 0; try < openat2Tries && (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EXDEV)); try++ {
		fd, err = unix.Openat2(dir.fd, name, how)
	}
	switch {
	case errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM):
		noOpenat2.Store(true)
		return nil, false, nil
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EXDEV):
		return nil, false, nil
	case err != nil:
		return nil, true, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	defer unix.Close(fd)
	st := &syscall.Stat_t{}
	if err := syscall.Fstat(fd, st); err != nil {
		return nil, true, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return statInfo{name: path.Base(name), st: st}, true, nil
}

// statInfo is an fs.FileInfo made from a stat, as os.Stat's is: Sys is
// the *syscall.Stat_t.
type statInfo struct {
	name string
	st   *syscall.Stat_t
}

func (s statInfo) Name() string       { return s.name }
func (s statInfo) Size() int64        { return s.st.Size }
func (s statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s statInfo) Sys() any           { return s.st }

func (s statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if s.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
