package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxSymlinks is how many symlinks PrivateDir follows on the way, as many
// as Linux's path resolution does.
const maxSymlinks = 40

// PrivateDir makes dir a folder that no one but the current user and root
// can change, creating it and any missing folder above it with mode 0700,
// or says why it cannot be one. dir itself must be a real folder (not a
// symlink) owned by the user and not writable by group or others; it is
// made 0700. Every folder above it, and every symlink on the way, must be
// owned by the user or root, and a folder others may write to must have the
// sticky bit (like /tmp), so that no one else can rename what is in it.
// A folder in a shared place like /tmp that someone else made first is
// thus refused, not used.
func PrivateDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	uid := os.Geteuid()
	if uid < 0 {
		return fmt.Errorf("bundle: %s: this system has no user ids to keep a folder private with", dir)
	}
	parent, err := os.Lstat("/")
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	cur, rest, links := "/", components(abs), 0
	for len(rest) > 0 {
		p := filepath.Join(cur, rest[0])
		rest = rest[1:]
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := trustedParent(cur, parent, uid); err != nil {
				return err
			}
			if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("bundle: %w", err)
			}
			fi, err = os.Lstat(p)
		}
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if err := trustedEntry(p, fi, cur, parent, uid); err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if len(rest) == 0 {
				return fmt.Errorf("bundle: %s is a symlink, not a folder of its own", p)
			}
			if links++; links > maxSymlinks {
				return fmt.Errorf("bundle: %s: too many levels of symbolic links", abs)
			}
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("bundle: %w", err)
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target) // cur has no symlink in it
			}
			rest = append(components(target), rest...)
			cur = "/"
			if parent, err = os.Lstat("/"); err != nil {
				return fmt.Errorf("bundle: %w", err)
			}
			continue
		}
		if !fi.IsDir() {
			return fmt.Errorf("bundle: %s is not a folder", p)
		}
		cur, parent = p, fi
	}
	if owner(parent) != uid {
		return fmt.Errorf("bundle: %s is owned by uid %d, not by uid %d", cur, owner(parent), uid)
	}
	if parent.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("bundle: %s is writable by others (mode %#o)", cur, parent.Mode().Perm())
	}
	if parent.Mode().Perm() != 0o700 {
		if err := os.Chmod(cur, 0o700); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	return nil
}

// trustedEntry checks that p, found in the folder dir, cannot be replaced
// or changed by anyone but the user and root.
func trustedEntry(p string, fi fs.FileInfo, dir string, dirInfo fs.FileInfo, uid int) error {
	if o := owner(fi); o != uid && o != 0 {
		return fmt.Errorf("bundle: %s is owned by uid %d, not by uid %d or root", p, o, uid)
	}
	return trustedParent(dir, dirInfo, uid)
}

// trustedParent checks that only the user and root can add, remove or
// rename entries of the folder dir, or that its sticky bit keeps others
// away from the entries the user and root own.
func trustedParent(dir string, fi fs.FileInfo, uid int) error {
	if o := owner(fi); o != uid && o != 0 {
		return fmt.Errorf("bundle: %s is owned by uid %d, not by uid %d or root", dir, o, uid)
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("bundle: %s is writable by others (mode %#o) and not sticky", dir, fi.Mode().Perm())
	}
	return nil
}

// owner is the uid that owns the file fi describes, or -1 when that cannot
// be told, which no check takes for the user or root.
func owner(fi fs.FileInfo) int {
	if uid, _, ok := ownerLinks(fi); ok {
		return uid
	}
	return -1
}

// components splits the absolute path p into its names.
func components(p string) []string {
	var names []string
	for _, n := range strings.Split(filepath.Clean(p), "/") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}
