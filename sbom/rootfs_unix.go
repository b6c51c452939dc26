//go:build unix

package sbom

import "syscall"

// openNoFollow guards the window between resolving a path and opening it: the
// last element must not have become a symlink, and a fifo must not block.
const openNoFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
