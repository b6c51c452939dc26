//go:build !linux

package origin

import (
	"io/fs"
	"time"
)

// changeTime is unknown here: files are then told apart by size, mode and
// modification time only. The scan step runs on Linux.
func changeTime(fs.FileInfo) time.Time {
	return time.Time{}
}
