//go:build unix

package bundle

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens path for reading, failing on a symlink at path instead
// of following it (and not blocking on a FIFO).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}

// ownerLinks returns the uid that owns the file fi describes and its number
// of hard links.
func ownerLinks(fi fs.FileInfo) (uid int, links uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), uint64(st.Nlink), true
}
