// Package bundle makes a self-contained root filesystem of one executable: the
// executable and, for a dynamically linked ELF file, its program interpreter
// and the shared libraries it needs, at the paths the loader looks for them.
//
// The plugin runs itself in a build step whose root filesystem is only this
// bundle, so a cgo build must bring its loader and libraries along.
package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Result describes a bundle.
type Result struct {
	// Files lists every file of the bundle, relative to dir: the executable
	// first, then the interpreter and the libraries in load order.
	Files []string
	// Written lists the files this call (re)wrote; it is empty when dir
	// already held an identical bundle.
	Written []string
	// Dynamic reports whether the executable has a program interpreter.
	Dynamic bool
	// Digest is the SHA-256 of the executable as the bundle holds it.
	Digest []byte
}

// object is an ELF file of the bundle: where it is read from on the host and
// where the loader will find it inside the bundle (they differ for the
// executable and for libraries found relative to it via $ORIGIN).
type object struct {
	host, path     string
	needed         []string
	rpath, runpath []string
	loader         *object // the object whose DT_NEEDED loaded this one
	class          elf.Class
	machine        elf.Machine
	interp, soname string
}

// searchDir is a library directory on the host and in the bundle.
type searchDir struct{ host, path string }

// IsDynamic reports whether the ELF executable at path needs a program
// interpreter (a static or static-pie binary does not).
func IsDynamic(path string) (bool, error) {
	o, err := readObject(path, "")
	if err != nil {
		return false, fmt.Errorf("bundle: %w", err)
	}
	return o.interp != "", nil
}

// Executable copies the executable at src into dir as dir/name and, if it is
// dynamically linked, its interpreter and every shared library it needs at
// the same absolute paths under dir. dir must be private (see PrivateDir):
// what runs the build's scan step must be what this user put there. A file
// already in dir is kept only if its content is the source's, compared by
// SHA-256 digest, so repeating it leaves dir unchanged, and a file someone
// planted there with the source's size, mode and time is replaced. Files of
// an earlier, different bundle are not removed: give each bundle its own dir.
func Executable(src, dir, name string) (Result, error) {
	var res Result
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return res, fmt.Errorf("bundle: invalid executable name %q", name)
	}
	if err := PrivateDir(dir); err != nil {
		return res, err
	}
	exe, err := readObject(src, "/"+name)
	if err != nil {
		return res, fmt.Errorf("bundle: %w", err)
	}
	if exe.interp == "" && len(exe.needed) > 0 {
		return res, fmt.Errorf("bundle: %s needs shared libraries but has no program interpreter (not an executable?)", src)
	}
	// $ORIGIN of the main program is the directory of its real path.
	if real, err := filepath.EvalSymlinks(src); err == nil {
		exe.host, _ = filepath.Abs(real)
	}
	files := []*object{exe}
	if exe.interp != "" {
		res.Dynamic = true
		interp, err := readObject(exe.interp, exe.interp)
		if err != nil {
			return res, fmt.Errorf("bundle: %s needs program interpreter %s: %w", src, exe.interp, err)
		}
		files = append(files, interp)
		libs, err := libraries(exe, interp)
		if err != nil {
			return res, err
		}
		files = append(files, libs...)
	}
	for _, o := range files {
		rel := strings.TrimPrefix(o.path, "/")
		res.Files = append(res.Files, rel)
		sum, written, err := install(o.host, filepath.Join(dir, rel))
		if err != nil {
			return res, err
		}
		if o == exe {
			res.Digest = sum
		}
		if written {
			res.Written = append(res.Written, rel)
		}
	}
	return res, nil
}

// libraries resolves the DT_NEEDED entries of exe transitively, breadth
// first like ld.so, which also means a name is looked up only once: the
// loader reuses an already loaded object of that name or soname.
func libraries(exe, interp *object) ([]*object, error) {
	loaded := map[string]bool{filepath.Base(interp.path): true, interp.soname: true}
	system := systemDirs(exe)
	var libs []*object
	for queue := []*object{exe}; len(queue) > 0; queue = queue[1:] {
		o := queue[0]
		for _, name := range o.needed {
			if loaded[name] {
				continue
			}
			lib, err := find(name, o, exe, system)
			if err != nil {
				return nil, err
			}
			loaded[name], loaded[lib.soname] = true, true
			libs = append(libs, lib)
			queue = append(queue, lib)
		}
	}
	return libs, nil
}

// find looks for the library name needed by o in ld.so's order: the
// DT_RPATH of o and of its loaders (only while they have no DT_RUNPATH), the
// DT_RUNPATH of o, then the system directories. LD_LIBRARY_PATH is ignored:
// the build step does not set it.
func find(name string, o, exe *object, system []searchDir) (*object, error) {
	var dirs []searchDir
	if strings.ContainsRune(name, '/') {
		dirs = []searchDir{{filepath.Dir(name), filepath.Join("/", filepath.Dir(name))}}
		name = filepath.Base(name)
	} else {
		if len(o.runpath) == 0 {
			for l := o; l != nil; l = l.loader {
				if len(l.runpath) == 0 {
					dirs = append(dirs, expand(l.rpath, l)...)
				}
			}
		}
		dirs = append(dirs, expand(o.runpath, o)...)
		dirs = append(dirs, system...)
	}
	var tried []string
	for _, d := range dirs {
		host := filepath.Join(d.host, name)
		tried = append(tried, d.host)
		lib, err := readObject(host, filepath.Join(d.path, name))
		// Like ld.so, skip files that are missing, not ELF or built for
		// another class or machine (e.g. a 32-bit library in /usr/lib).
		if err != nil || lib.class != exe.class || lib.machine != exe.machine {
			continue
		}
		lib.loader = o
		return lib, nil
	}
	return nil, fmt.Errorf("bundle: %s needs shared library %s, which was not found (searched %s)",
		o.host, name, strings.Join(tried, ":"))
}

// expand turns DT_RPATH/DT_RUNPATH entries of o into directories, replacing
// $ORIGIN by o's directory on the host and in the bundle respectively.
// Relative entries (relative to the working directory) and the rarely used
// $LIB and $PLATFORM are skipped.
func expand(entries []string, o *object) []searchDir {
	origin := func(dir string) *strings.Replacer {
		return strings.NewReplacer("${ORIGIN}", dir, "$ORIGIN", dir)
	}
	onHost, inBundle := origin(filepath.Dir(o.host)), origin(filepath.Dir(o.path))
	var dirs []searchDir
	for _, e := range entries {
		for _, p := range strings.Split(e, ":") {
			host, path := onHost.Replace(p), inBundle.Replace(p)
			if filepath.IsAbs(host) && !strings.Contains(host, "$") {
				dirs = append(dirs, searchDir{filepath.Clean(host), filepath.Clean(path)})
			}
		}
	}
	return dirs
}

// confDirs returns the directories listed in an ld.so.conf file and the
// files it includes.
func confDirs(file string, depth int) []string {
	f, err := os.Open(file)
	if err != nil || depth > 8 {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0 || fields[0] == "hwcap":
		case fields[0] == "include":
			for _, pat := range fields[1:] {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(file), pat)
				}
				matches, _ := filepath.Glob(pat) // sorted, like ldconfig
				for _, m := range matches {
					dirs = append(dirs, confDirs(m, depth+1)...)
				}
			}
		case filepath.IsAbs(fields[0]):
			dirs = append(dirs, filepath.Clean(fields[0]))
		}
	}
	return dirs
}

// multiarch maps a machine to its Debian multiarch tuple.
var multiarch = map[elf.Machine]string{
	elf.EM_X86_64: "x86_64-linux-gnu", elf.EM_AARCH64: "aarch64-linux-gnu",
	elf.EM_386: "i386-linux-gnu", elf.EM_ARM: "arm-linux-gnueabihf",
	elf.EM_PPC64: "powerpc64le-linux-gnu", elf.EM_S390: "s390x-linux-gnu",
	elf.EM_RISCV: "riscv64-linux-gnu",
}

// systemDirs returns the directories of ld.so.conf, standing in for
// ld.so.cache, followed by the built-in directories of a loader for exe's
// machine: multiarch (Debian), lib64 (Fedora), lib (everyone).
func systemDirs(exe *object) []searchDir {
	var names []string
	if t, ok := multiarch[exe.machine]; ok {
		names = append(names, "/lib/"+t, "/usr/lib/"+t)
	}
	if exe.class == elf.ELFCLASS64 {
		names = append(names, "/lib64", "/usr/lib64")
	}
	names = append(names, "/lib", "/usr/lib")
	// The bundle has no ld.so.cache, so its loader searches only the
	// built-in directories: a library found through ld.so.conf elsewhere
	// goes into the first of them this host has, the one its loader uses.
	into := "/lib"
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil && fi.IsDir() {
			into = n
			break
		}
	}
	var dirs []searchDir
	for _, d := range append(confDirs("/etc/ld.so.conf", 0), names...) {
		if slices.ContainsFunc(dirs, func(s searchDir) bool { return s.host == d }) {
			continue // listed twice: ld.so would not find it the second time either
		}
		if slices.Contains(names, d) {
			dirs = append(dirs, searchDir{d, d})
		} else {
			dirs = append(dirs, searchDir{d, into})
		}
	}
	return dirs
}

// readObject reads the dynamic linking information of the ELF file at host,
// to be placed at path in the bundle.
func readObject(host, path string) (*object, error) {
	f, err := elf.Open(host)
	if err != nil {
		if _, ok := err.(*fs.PathError); ok {
			return nil, err // names the file already
		}
		return nil, fmt.Errorf("%s is not an ELF file: %w", host, err)
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return nil, fmt.Errorf("%s is not a Linux ELF file (OS ABI %v)", host, f.OSABI)
	}
	o := &object{host: host, path: path, class: f.Class, machine: f.Machine}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, fmt.Errorf("%s: reading PT_INTERP: %w", host, err)
			}
			o.interp = strings.TrimRight(string(b), "\x00")
		}
	}
	// A static binary has no dynamic section; these then return nothing.
	o.needed, _ = f.ImportedLibraries()
	o.rpath, _ = f.DynString(elf.DT_RPATH)
	o.runpath, _ = f.DynString(elf.DT_RUNPATH)
	if s, _ := f.DynString(elf.DT_SONAME); len(s) > 0 {
		o.soname = s[0]
	}
	return o, nil
}

// install copies the file src (following symlinks) to dst unless dst
// already holds src's content and permissions as a file of ours that is
// linked nowhere else, and returns the SHA-256 of what dst holds. It
// writes a temporary file and renames it, so dst is never half written. A
// file it writes gets the current time, not src's: a file of the source's
// size, mode and time can be a planted one that BuildKit's file sync, which
// compares only those, already holds, and it must send the replacement.
func install(src, dst string) (sum []byte, written bool, err error) {
	// Both files are read whole on every build: hash them side by side.
	type digest struct {
		sum  []byte
		perm fs.FileMode
		err  error
	}
	source := make(chan digest, 1)
	go func() {
		sum, perm, err := FileDigest(src)
		source <- digest{sum, perm, err}
	}()
	have, havePerm, ok, err := bundled(dst)
	want := <-source
	if want.err != nil {
		return nil, false, fmt.Errorf("bundle: %w", want.err)
	}
	if err != nil {
		return nil, false, err
	}
	if ok && havePerm == want.perm && bytes.Equal(have, want.sum) {
		return want.sum, false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, false, fmt.Errorf("bundle: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return nil, false, fmt.Errorf("bundle: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp*")
	if err != nil {
		return nil, false, fmt.Errorf("bundle: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), in)
	if err == nil && !bytes.Equal(h.Sum(nil), want.sum) {
		err = fmt.Errorf("it changed while it was copied")
	}
	if err == nil {
		err = tmp.Chmod(want.perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return nil, false, fmt.Errorf("bundle: copying %s: %w", src, err)
	}
	return want.sum, true, nil
}

// bundled returns the SHA-256 digest and the permissions of dst if it is a
// regular file of ours with one link; ok is false for anything else, which
// install replaces. It reads dst through one descriptor opened without
// following a symlink, so what it checks is one file.
func bundled(dst string) (sum []byte, perm fs.FileMode, ok bool, err error) {
	f, err := openNoFollow(dst)
	if err != nil {
		return nil, 0, false, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, false, fmt.Errorf("bundle: %w", err)
	}
	uid, links, known := ownerLinks(fi)
	if !fi.Mode().IsRegular() || !known || uid != os.Geteuid() || links != 1 {
		return nil, 0, false, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, 0, false, fmt.Errorf("bundle: reading %s: %w", dst, err)
	}
	return h.Sum(nil), fi.Mode().Perm(), true, nil
}

// FileDigest returns the SHA-256 digest and the permissions of the regular
// file at path, following symlinks.
func FileDigest(path string) ([]byte, fs.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return h.Sum(nil), fi.Mode().Perm(), nil
}
