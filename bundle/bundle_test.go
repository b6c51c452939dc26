package bundle

import (
	"bytes"
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const staticSrc = `package main

import "fmt"

func main() { fmt.Println("hello from a static binary") }
`

// cgoSrc calls into libc, so the binary needs ld.so and libc.so.6.
const cgoSrc = `package main

// #include <stdlib.h>
import "C"

import "fmt"

func main() { fmt.Println("hello from cgo, abs =", C.abs(-42)) }
`

// goBuild builds the single-file program src in a temporary directory.
func goBuild(t *testing.T, src string, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "prog", "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOFLAGS=-buildvcs=false", "GO111MODULE=off"}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "prog")
}

func needCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler (gcc) on PATH; install gcc to test dynamically linked binaries")
	}
}

// run runs cmd and returns its output, failing the test on error.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runInChroot runs /name inside the bundle, which proves that the loader and
// every library it needs are there.
func runInChroot(t *testing.T, dir, name string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running the bundle needs chroot, which needs root")
	}
	if _, err := exec.LookPath("chroot"); err != nil {
		t.Skip("no chroot command")
	}
	return run(t, "/", "chroot", dir, "/"+name)
}

// checkFiles checks that dir holds exactly the files of res as regular
// files (symlinks resolved, no temporary files left behind).
func checkFiles(t *testing.T, dir string, res Result) {
	t.Helper()
	var got []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if !d.Type().IsRegular() {
				t.Errorf("%s: not a regular file", path)
			}
			rel, _ := filepath.Rel(dir, path)
			got = append(got, rel)
		}
		return err
	})
	if want := slices.Sorted(slices.Values(res.Files)); err != nil || !slices.Equal(got, want) {
		t.Errorf("bundle holds %q (%v); want %q", got, err, want)
	}
}

func TestStatic(t *testing.T) {
	prog := goBuild(t, staticSrc, "CGO_ENABLED=0")
	if dyn, err := IsDynamic(prog); err != nil || dyn {
		t.Fatalf("IsDynamic = %v, %v; want false", dyn, err)
	}
	dir := t.TempDir()
	res, err := Executable(prog, dir, "docker-secure")
	if err != nil {
		t.Fatal(err)
	}
	if res.Dynamic || !slices.Equal(res.Files, []string{"docker-secure"}) {
		t.Fatalf("got %+v; want only the binary", res)
	}
	checkFiles(t, dir, res)
	if out := runInChroot(t, dir, "docker-secure"); out != "hello from a static binary\n" {
		t.Errorf("output %q", out)
	}
}

func TestDynamic(t *testing.T) {
	needCC(t)
	prog := goBuild(t, cgoSrc, "CGO_ENABLED=1")
	if dyn, err := IsDynamic(prog); err != nil || !dyn {
		t.Fatalf("IsDynamic = %v, %v; want true", dyn, err)
	}
	dir := t.TempDir()
	res, err := Executable(prog, dir, "docker-secure")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle: %q", res.Files)
	if !res.Dynamic || len(res.Files) < 3 || res.Files[0] != "docker-secure" {
		t.Fatalf("got %+v; want the binary, its interpreter and libc", res)
	}
	if !slices.ContainsFunc(res.Files, func(f string) bool { return filepath.Base(f) == "libc.so.6" }) {
		t.Errorf("no libc.so.6 in %q", res.Files)
	}
	if !slices.Equal(res.Written, res.Files) {
		t.Errorf("Written = %q; want all of %q", res.Written, res.Files)
	}
	checkFiles(t, dir, res)
	if out := runInChroot(t, dir, "docker-secure"); out != "hello from cgo, abs = 42\n" {
		t.Errorf("output %q", out)
	}
}

// TestRepeat checks that bundling again into an unchanged bundle writes
// nothing, and that a changed source rewrites just that file.
func TestRepeat(t *testing.T) {
	needCC(t)
	prog := goBuild(t, cgoSrc, "CGO_ENABLED=1")
	dir := t.TempDir()
	first, err := Executable(prog, dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	stats := func() map[string]syscall.Stat_t {
		m := map[string]syscall.Stat_t{}
		for _, f := range first.Files {
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(dir, f), &st); err != nil {
				t.Fatal(err)
			}
			m[f] = st
		}
		return m
	}
	before := stats()
	second, err := Executable(prog, dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(second.Files, first.Files) || len(second.Written) != 0 {
		t.Fatalf("second run: %+v; want the same files and none written", second)
	}
	after := stats()
	for f, b := range before {
		a := after[f]
		if a.Ino != b.Ino || a.Mtim != b.Mtim || a.Ctim != b.Ctim {
			t.Errorf("%s changed: inode %d→%d, mtime %v→%v, ctime %v→%v", f, b.Ino, a.Ino, b.Mtim, a.Mtim, b.Ctim, a.Ctim)
		}
	}
	checkFiles(t, dir, second)

	// A touched source has the same content: nothing to write.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(prog, later, later); err != nil {
		t.Fatal(err)
	}
	if third, err := Executable(prog, dir, "app"); err != nil || len(third.Written) != 0 {
		t.Fatalf("after touching the source: %+v, %v; want nothing written", third, err)
	}
	// A changed source is copied again (an ELF file may end in anything).
	f, err := os.OpenFile(prog, os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.Write([]byte{0})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	fourth, err := Executable(prog, dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fourth.Written, []string{"app"}) {
		t.Fatalf("after changing the source, Written = %q; want [app]", fourth.Written)
	}
	sameContent(t, filepath.Join(dir, "app"), prog)
}

// sameContent checks that the files got and want hold the same bytes.
func sameContent(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s does not hold the content of %s", got, want)
	}
}

// TestPlanted: a file put in the bundle in place of the executable is
// replaced although it has the executable's size, mode and modification
// time, and so is a symlink to a file with the right content; the
// replacement gets a new modification time, so that BuildKit's file sync,
// which compares size and time, sends it again.
func TestPlanted(t *testing.T) {
	prog := goBuild(t, staticSrc, "CGO_ENABLED=0")
	dir := t.TempDir()
	if _, err := Executable(prog, dir, "app"); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app")
	fi, err := os.Stat(app)
	if err != nil {
		t.Fatal(err)
	}
	planted := bytes.Repeat([]byte{0x90}, int(fi.Size()))
	if err := os.WriteFile(app, planted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(app, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(app, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	res, err := Executable(prog, dir, "app")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Written, []string{"app"}) {
		t.Fatalf("with a planted file of the same size, mode and time, Written = %q; want [app]", res.Written)
	}
	sameContent(t, app, prog)
	if after, err := os.Stat(app); err != nil || after.ModTime().Equal(fi.ModTime()) {
		t.Errorf("the replacement kept the planted file's time %v (%v)", fi.ModTime(), err)
	}

	if err := os.Remove(app); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(prog, app); err != nil {
		t.Fatal(err)
	}
	if res, err := Executable(prog, dir, "app"); err != nil || !slices.Equal(res.Written, []string{"app"}) {
		t.Fatalf("with a symlink in place: %+v, %v; want [app] written", res, err)
	}
	checkFiles(t, dir, Result{Files: []string{"app"}})
}

// TestPrivateDir: the bundle's folder is made 0700, and a folder others
// could change is refused: one owned by someone else, a writable one, a
// symlink, or one under a folder others could rename it in.
func TestPrivateDir(t *testing.T) {
	base := t.TempDir()
	mkdir := func(name string, mode fs.FileMode) string {
		t.Helper()
		p := filepath.Join(base, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // the umask may have cut it
			t.Fatal(err)
		}
		return p
	}

	fresh := filepath.Join(base, "a", "b", "c")
	if err := PrivateDir(fresh); err != nil {
		t.Fatalf("PrivateDir(%s): %v", fresh, err)
	}
	for _, p := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), fresh} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a folder of mode 0700", p, fi.Mode(), err)
		}
	}
	readable := mkdir("readable", 0o755)
	if err := PrivateDir(readable); err != nil {
		t.Errorf("PrivateDir of a folder of ours of mode 0755: %v", err)
	} else if fi, _ := os.Stat(readable); fi.Mode().Perm() != 0o700 {
		t.Errorf("%s has mode %v; want 0700", readable, fi.Mode())
	}
	sticky := mkdir("sticky", 0o777|fs.ModeSticky)
	if err := PrivateDir(filepath.Join(sticky, "mine")); err != nil {
		t.Errorf("PrivateDir of a new folder in a sticky folder like /tmp: %v", err)
	}
	ours := mkdir("ours", 0o700)
	link := filepath.Join(base, "link")
	if err := os.Symlink(ours, link); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(filepath.Join(link, "in")); err != nil {
		t.Errorf("PrivateDir under a symlink of ours to a folder of ours: %v", err)
	}

	refused := []struct{ dir, why string }{
		{mkdir("world", 0o777), "writable by others"},
		{mkdir("group", 0o770), "writable by others"},
		{filepath.Join(mkdir("open", 0o777), "in"), "not sticky"},
		{link, "is a symlink"},
	}
	if os.Geteuid() == 0 {
		theirs := mkdir("theirs", 0o700)
		theirLink := filepath.Join(sticky, "their-link")
		if err := os.Symlink(ours, theirLink); err != nil {
			t.Fatal(err)
		}
		squatted := filepath.Join(sticky, "squatted")
		if err := os.Mkdir(squatted, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{theirs, theirLink, squatted} {
			if err := os.Lchown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		refused = append(refused,
			struct{ dir, why string }{theirs, "owned by uid 65534"},
			struct{ dir, why string }{filepath.Join(theirs, "in"), "owned by uid 65534"},
			struct{ dir, why string }{filepath.Join(theirLink, "in"), "owned by uid 65534"},
			struct{ dir, why string }{filepath.Join(squatted, "secure-build"), "owned by uid 65534"},
		)
	} else {
		t.Log("not root: the cases of folders owned by someone else are not tried")
	}
	prog := goBuild(t, staticSrc, "CGO_ENABLED=0")
	for _, tc := range refused {
		err := PrivateDir(tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("PrivateDir(%s) = %v; want an error saying %q", tc.dir, err, tc.why)
		}
		if _, err := Executable(prog, tc.dir, "app"); err == nil {
			t.Errorf("Executable bundled into %s", tc.dir)
		}
		if _, err := os.Lstat(filepath.Join(tc.dir, "app")); err == nil {
			t.Errorf("Executable wrote into %s", tc.dir)
		}
	}
}

func TestNotExecutable(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A FreeBSD binary: a Linux one with another OS ABI in its ELF header.
	b, err := os.ReadFile(goBuild(t, staticSrc, "CGO_ENABLED=0"))
	if err != nil {
		t.Fatal(err)
	}
	b[elf.EI_OSABI] = byte(elf.ELFOSABI_FREEBSD)
	freebsd := filepath.Join(dir, "freebsd")
	if err := os.WriteFile(freebsd, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{script, "not an ELF file"},
		{freebsd, "not a Linux ELF file"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		_, err := Executable(tc.path, t.TempDir(), "app")
		if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Executable(%s) error = %v; want it to name the file and say %q", tc.path, err, tc.want)
		}
	}
	if _, err := Executable(script, t.TempDir(), "a/b"); err == nil {
		t.Error("a name with a slash was accepted")
	}
}

// cProgram builds main.c calling a function of libbundletest.so.1 in
// root/lib, linked with the extra flags, and returns the program's path.
func cProgram(t *testing.T, root string, flags ...string) string {
	t.Helper()
	for _, d := range []string{"lib", "bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"lib/stub.c": "int bundletest(void) { return 42; }\n",
		"bin/main.c": "#include <stdio.h>\nint bundletest(void);\n" +
			"int main(void) { printf(\"hello from C, %d\\n\", bundletest()); return 0; }\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, filepath.Join(root, "lib"), "gcc", "-shared", "-fPIC", "-Wl,-soname,libbundletest.so.1",
		"-o", "libbundletest.so.1", "stub.c")
	if err := os.Symlink("libbundletest.so.1", filepath.Join(root, "lib", "libbundletest.so")); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-o", "prog", "main.c", "-L../lib", "-lbundletest"}, flags...)
	run(t, filepath.Join(root, "bin"), "gcc", args...)
	return filepath.Join(root, "bin", "prog")
}

func TestMissingLibrary(t *testing.T) {
	needCC(t)
	root := t.TempDir()
	prog := cProgram(t, root)
	if err := os.RemoveAll(filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	_, err := Executable(prog, t.TempDir(), "app")
	if err == nil || !strings.Contains(err.Error(), "libbundletest.so.1") || !strings.Contains(err.Error(), prog) {
		t.Fatalf("error = %v; want it to name %s and libbundletest.so.1", err, prog)
	}
	t.Log(err)
}

func TestMissingInterpreter(t *testing.T) {
	needCC(t)
	prog := cProgram(t, t.TempDir())
	f, err := elf.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	var interp []byte
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ = io.ReadAll(p.Open()) // NUL-terminated
		}
	}
	f.Close()
	b, err := os.ReadFile(prog)
	if err != nil || len(interp) < 2 {
		t.Fatalf("reading %s: %v, PT_INTERP %q", prog, err, interp)
	}
	missing := slices.Clone(interp)
	missing[len(missing)-2] = 'X'
	if err := os.WriteFile(prog, bytes.Replace(b, interp, missing, 1), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Executable(prog, t.TempDir(), "app")
	want := string(missing[:len(missing)-1])
	if err == nil || !strings.Contains(err.Error(), prog) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v; want it to name %s and %s", err, prog, want)
	}
	t.Log(err)
}

// TestOrigin checks a library found through $ORIGIN: in the bundle the
// program is /app, so $ORIGIN/../lib is /lib there.
func TestOrigin(t *testing.T) {
	needCC(t)
	for _, tag := range []string{"--enable-new-dtags", "--disable-new-dtags"} { // DT_RUNPATH, DT_RPATH
		t.Run(tag, func(t *testing.T) {
			prog := cProgram(t, t.TempDir(), "-Wl,"+tag, "-Wl,-rpath,$ORIGIN/../lib")
			dir := t.TempDir()
			res, err := Executable(prog, dir, "app")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(res.Files, "lib/libbundletest.so.1") {
				t.Fatalf("no lib/libbundletest.so.1 in %q", res.Files)
			}
			checkFiles(t, dir, res)
			if out := runInChroot(t, dir, "app"); out != "hello from C, 42\n" {
				t.Errorf("output %q", out)
			}
		})
	}
}
