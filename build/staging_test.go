package build

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs the test under umask mask.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// TestWriteFileHonoursUmask: a new output file gets 0666 less the umask,
// as the shell gives it, not 0644 whatever the umask.
func TestWriteFileHonoursUmask(t *testing.T) {
	withUmask(t, 0o027)
	path := filepath.Join(t.TempDir(), "report.json")
	if err := WriteFile(path, writeString("{}")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v (%v), want 0640 under umask 027", fi.Mode(), err)
	}
}

// TestWriteFileRefusesSymlink: a symbolic link planted at the path is
// neither followed nor replaced: the write fails saying so, and the link
// and the file it names are as they were.
func TestWriteFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "iid")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, writeString("sha256:x"))
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link (to "+victim+"): refusing to write through it or replace it") {
		t.Errorf("WriteFile to a planted link: %v, want it refused", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the link's target holds %q", b)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left beside: %v", entries)
	}
}

// TestWriteFileSystemLinks: /dev/null and /dev/fd/N, devices and links
// the system keeps, are written in place.
func TestWriteFileSystemLinks(t *testing.T) {
	if err := WriteFile("/dev/null", writeString("x")); err != nil {
		t.Errorf("/dev/null: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	err = WriteFile("/dev/fd/"+strconv.Itoa(int(w.Fd())), writeString("through the pipe"))
	w.Close()
	if got := <-done; err != nil || got != "through the pipe" {
		t.Errorf("/dev/fd/N: %v, read %q", err, got)
	}
}

// TestOutputFileRefusesSymlink: a build's tar output refuses a planted link
// before the build, and its file gets the umask's mode.
func TestOutputFileRefusesSymlink(t *testing.T) {
	withUmask(t, 0o077)
	dir := t.TempDir()
	link := filepath.Join(dir, "app.tar")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	if err := (&outputFile{path: link}).check(); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("check of a planted link: %v", err)
	}
	dest := filepath.Join(dir, "new.tar")
	out := &outputFile{path: dest}
	w, err := out.output(nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "tar")
	if err := out.finish(true); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600 under umask 077", fi.Mode(), err)
	}
}

// TestOutputFileReplaces: a file of an earlier build is kept when the build
// fails and replaced, leaving nothing beside it, when it passes; when the
// new file cannot be put in place the earlier one is back under its name.
func TestOutputFileReplaces(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "app.tar")
	writeTree(t, dir, map[string]string{"app.tar": "old"})
	build := func(ok bool) error {
		out := &outputFile{path: dest}
		w, err := out.output(nil)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "new")
		return out.finish(ok)
	}
	if err := build(false); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); !slices.Equal(got, []string{"app.tar=old"}) {
		t.Errorf("after a failed build: %v", got)
	}
	if err := build(true); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); !slices.Equal(got, []string{"app.tar=new"}) {
		t.Errorf("after a passed build: %v", got)
	}

	// The staged file gone before it is put in place: an error, and the
	// earlier file where it was.
	out := &outputFile{path: dest}
	if _, err := out.output(nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(out.tmp.Name()); err != nil {
		t.Fatal(err)
	}
	if err := out.finish(true); err == nil {
		t.Error("finish with its staged file gone: no error")
	}
	if got := tree(t, dir); !slices.Equal(got, []string{"app.tar=new"}) {
		t.Errorf("after a failed commit: %v", got)
	}
}

// tree lists the files under dir with their content ("name=content",
// folders as "name/"), sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case d.IsDir():
			out = append(out, rel+"/")
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			out = append(out, rel+"->"+target)
		default:
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOutputDirNew: a new folder output appears only when the build passed,
// whole, with 0777 less the umask; a failed build leaves nothing.
func TestOutputDirNew(t *testing.T) {
	withUmask(t, 0o022)
	parent := t.TempDir()
	dest := filepath.Join(parent, "out")
	for _, ok := range []bool{false, true} {
		o := &outputDir{path: dest}
		if err := o.stage(); err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(o.staging) != parent || !strings.HasPrefix(filepath.Base(o.staging), ".out.") {
			t.Errorf("staging folder %s is not beside %s", o.staging, dest)
		}
		writeTree(t, o.staging, map[string]string{"app": "binary", "etc/conf": "x"})
		if err := o.finish(ok); err != nil {
			t.Fatal(err)
		}
		got := tree(t, parent)
		if !ok && len(got) != 0 {
			t.Errorf("after a failed build: %v, want nothing", got)
		}
		if ok && strings.Join(got, " ") != "out/ out/app=binary out/etc/ out/etc/conf=x" {
			t.Errorf("after a passing build: %v", got)
		}
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v (%v), want 0755 under umask 022", fi.Mode(), err)
	}
}

// TestOutputDirExisting: an existing folder keeps what it held until the
// build passed; then the build's files are added (mode=delete: and the
// others removed), replacing a symbolic link in the way, never following it.
func TestOutputDirExisting(t *testing.T) {
	for _, deleteOthers := range []bool{false, true} {
		top := t.TempDir()
		dest, victim := filepath.Join(top, "out"), filepath.Join(top, "victim")
		writeTree(t, dest, map[string]string{"app": "old", "keep": "mine", "sub/old": "o"})
		if err := os.MkdirAll(victim, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(dest, "bin")); err != nil {
			t.Fatal(err)
		}
		before := tree(t, dest)
		for _, ok := range []bool{false, true} {
			o := &outputDir{path: dest, deleteOthers: deleteOthers}
			if err := o.stage(); err != nil {
				t.Fatal(err)
			}
			writeTree(t, o.staging, map[string]string{"app": "new", "bin/tool": "t", "sub/new": "n"})
			if err := o.finish(ok); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(tree(t, dest), " ")
			want := "app=new bin/ bin/tool=t keep=mine sub/ sub/new=n sub/old=o"
			if deleteOthers {
				want = "app=new bin/ bin/tool=t sub/ sub/new=n"
			}
			if !ok {
				want = strings.Join(before, " ")
			}
			if got != want {
				t.Errorf("delete=%v, build passed %v: %s, want %s", deleteOthers, ok, got, want)
			}
		}
		if got := tree(t, victim); len(got) != 0 {
			t.Errorf("the link in the folder was followed: %v", got)
		}
	}
}

// TestOutputDirLayout: an existing OCI layout gets the new blobs and the
// index BuildKit updated from a copy only when the build passed.
func TestOutputDirLayout(t *testing.T) {
	dest := t.TempDir()
	writeTree(t, dest, map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "index.json": "old", "blobs/sha256/aa": "a"})
	for _, ok := range []bool{false, true} {
		o := &outputDir{path: dest, layout: true}
		if err := o.stage(); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(o.staging, "index.json")); err != nil || string(b) != "old" {
			t.Fatalf("BuildKit does not update a copy of the index: %q %v", b, err)
		}
		writeTree(t, o.staging, map[string]string{"index.json": "old+new", "blobs/sha256/bb": "b", "ingest/x/data": "", "index.json.lock": ""})
		if err := o.finish(ok); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(tree(t, dest), " ")
		want := `blobs/ blobs/sha256/ blobs/sha256/aa=a index.json=old oci-layout={"imageLayoutVersion":"1.0.0"}`
		if ok {
			want = `blobs/ blobs/sha256/ blobs/sha256/aa=a blobs/sha256/bb=b index.json=old+new oci-layout={"imageLayoutVersion":"1.0.0"}`
		}
		if got != want {
			t.Errorf("build passed %v: %s, want %s", ok, got, want)
		}
	}
}

// TestOutputDirRefusesSymlink: a folder output whose destination is a
// symbolic link is refused before the build.
func TestOutputDirRefusesSymlink(t *testing.T) {
	top := t.TempDir()
	link := filepath.Join(top, "out")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if err := (&outputDir{path: link}).stage(); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("stage of a link: %v, want it refused", err)
	}
}
