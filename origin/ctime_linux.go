package origin

import (
	"io/fs"
	"syscall"
	"time"
)

// changeTime is a file's status change time, which no one can set: an
// unchanged file keeps it, a rewritten one with its old mtime does not.
func changeTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return time.Time{}
}
