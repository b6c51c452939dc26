//go:build !unix

package bundle

import (
	"io/fs"
	"os"
)

// openNoFollow opens path for reading; without Unix ownership, ownerLinks
// refuses what it opens anyway.
func openNoFollow(path string) (*os.File, error) {
	return os.Open(path)
}

// ownerLinks cannot tell who owns a file here, so no folder is private and
// no bundled file is kept: the plugin uses a scanner image on such hosts.
func ownerLinks(fs.FileInfo) (uid int, links uint64, ok bool) {
	return 0, 0, false
}
