package build

import (
	"fmt"
	"io/fs"
	"syscall"
)

// fileIdentity is the file's device, inode and change time: a file
// rewritten in place, even with its old size and times, gets a new change
// time, which no one can set.
func fileIdentity(fi fs.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%d %d %d.%09d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec), true
}
