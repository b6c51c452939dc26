package build

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Every file the commands write (-o, --sbom-output, --report, --iidfile,
// --metadata-file, and the build's file and folder outputs) is written under
// a name of its own beside its destination and renamed into place only when
// complete: a failure or Ctrl-C leaves the old destination as it was. New
// files get 0666 and folders 0777 less the umask, as the shell gives them. A
// symbolic link at the destination is refused, never followed nor
// replaced: in a shared folder it may have been planted to send the output
// elsewhere.

// WriteFile writes file through a file beside it renamed into place. A
// device or a fifo ("-o /dev/null") is written in place, as are /dev/stdout
// and the like, links the system keeps.
func WriteFile(file string, write func(io.Writer) error) error {
	fi, err := checkDestination(file)
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if fi != nil && fi.IsDir() {
		return fmt.Errorf("write %s: is a directory", file)
	}
	if fi != nil && (!fi.Mode().IsRegular() || systemLink(file)) {
		return writeInPlace(file, write)
	}
	out := &outputFile{path: file}
	if err := out.create(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	err = WriteBuffered(out.tmp, write)
	if err == nil {
		err = out.commit()
	}
	if err != nil {
		out.discard()
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// CheckDestination refuses a path an output could not be written to: a
// symbolic link not the system's.
func CheckDestination(path string) error {
	_, err := checkDestination(path)
	return err
}

func writeInPlace(file string, write func(io.Writer) error) error {
	flags := os.O_WRONLY
	if !systemLink(file) {
		flags |= syscall.O_NOFOLLOW // a link swapped in after the check
	}
	f, err := os.OpenFile(file, flags, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	err = WriteBuffered(f, write)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// WriteBuffered writes through a buffer: a failed write surfaces when it
// flushes, as the error of the write.
func WriteBuffered(w io.Writer, write func(io.Writer) error) error {
	bw := bufio.NewWriter(w)
	if err := write(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// checkDestination returns what is at path (nil when nothing is), refusing
// a symbolic link.
func checkDestination(path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 && !systemLink(path) {
		target, _ := os.Readlink(path)
		return nil, fmt.Errorf("is a symbolic link (to %s): refusing to write through it or replace it; remove it or name another path", target)
	}
	return fi, nil
}

// systemLink tells /dev/stdout, /dev/fd/1 and the like: links the system
// keeps, that nobody without root can plant.
func systemLink(path string) bool {
	return strings.HasPrefix(filepath.Clean(path), "/dev/")
}

// createBeside creates a file of its own beside path, exclusively (never
// through a file or link planted under its name), with 0666 less the umask.
func createBeside(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 100 {
		f, err := os.OpenFile(filepath.Join(dir, stagingName(base)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no free name beside %s", path)
}

// mkdirBeside creates a folder of its own in dir for the output named base,
// with 0777 less the umask.
func mkdirBeside(dir, base string) (string, error) {
	for range 100 {
		name := filepath.Join(dir, stagingName(base))
		err := os.Mkdir(name, 0o777)
		if !errors.Is(err, fs.ErrExist) {
			return name, err
		}
	}
	return "", fmt.Errorf("no free name in %s", dir)
}

// stagingName is the hidden name an output is written under until it is
// complete.
func stagingName(base string) string {
	return "." + base + "." + strconv.FormatUint(rand.Uint64(), 36) + ".tmp"
}

// outputFile is a file output of the build (a tar), written beside its
// destination and renamed into place only when the build passed.
type outputFile struct {
	path string
	tmp  *os.File
	// load, when set, sends the finished file to the Docker Engine instead.
	load func(io.Reader) error
}

// check refuses a destination the build could not write, before the build.
func (o *outputFile) check() error {
	if o.load != nil {
		return nil
	}
	fi, err := checkDestination(o.path)
	if err == nil && fi != nil && fi.IsDir() {
		err = errors.New("is a directory")
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	return nil
}

func (o *outputFile) output(map[string]string) (io.WriteCloser, error) {
	if err := o.create(); err != nil {
		return nil, fmt.Errorf("output %s: %w", o.path, err)
	}
	return nopCloser{o.tmp}, nil
}

// create opens the file written until finish: beside the destination, or
// for a load in the temporary folder.
func (o *outputFile) create() error {
	var err error
	if o.load != nil {
		o.tmp, err = os.CreateTemp("", "secure-build-load-*.tar")
	} else {
		o.tmp, err = createBeside(o.path)
	}
	return err
}

// nopCloser keeps the file open for finish, which closes it.
type nopCloser struct{ *os.File }

func (nopCloser) Close() error { return nil }

func (o *outputFile) finish(ok bool) error {
	if o.tmp == nil {
		return nil
	}
	if !ok {
		o.discard()
		return nil
	}
	if o.load != nil {
		defer o.discard()
		if _, err := o.tmp.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("load the image: %w", err)
		}
		return o.load(o.tmp)
	}
	if err := o.commit(); err != nil {
		o.discard()
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	return nil
}

// commit puts the complete file into place. A file of an earlier build
// there is moved aside first and removed after, not replaced by the rename:
// ext4 writes a file renamed over another to disk before the rename returns
// (auto_da_alloc), which for an image tar is a quarter of a second.
func (o *outputFile) commit() error {
	if err := o.tmp.Close(); err != nil {
		return err
	}
	var old string
	if fi, err := os.Lstat(o.path); err == nil && fi.Mode().IsRegular() {
		old = filepath.Join(filepath.Dir(o.path), stagingName(filepath.Base(o.path)))
		if err := os.Rename(o.path, old); err != nil {
			return err
		}
	}
	if err := os.Rename(o.tmp.Name(), o.path); err != nil {
		if old != "" {
			if rerr := os.Rename(old, o.path); rerr != nil {
				return fmt.Errorf("%w; the earlier file is kept as %s", err, old)
			}
		}
		return err
	}
	o.tmp = nil
	if old != "" {
		if err := os.Remove(old); err != nil {
			return fmt.Errorf("remove the earlier file, moved to %s: %w", old, err)
		}
	}
	return nil
}

// discard removes the file written so far.
func (o *outputFile) discard() {
	if o.tmp == nil {
		return
	}
	o.tmp.Close()
	os.Remove(o.tmp.Name())
	o.tmp = nil
}

// outputDir is a folder output of the build: type=local, and an OCI layout
// (type=oci or docker with tar=false). BuildKit writes into a staging
// folder; when the build passed, a new destination is the staging folder
// renamed, and an existing one gets the staging folder's entries moved into
// it (type=local adds to a folder as BuildKit does, mode=delete then
// removes what the build did not write; a layout gets the new blobs, then
// its index.json, which BuildKit updated from a copy, last). A failed or
// interrupted build removes the staging folder and leaves the destination
// as it was.
type outputDir struct {
	path    string
	staging string
	// existed is set when the destination was there before the build.
	existed bool
	// layout is set for an OCI layout, deleteOthers for type=local,mode=delete.
	layout, deleteOthers bool
}

// stage creates the staging folder: beside a new destination, inside an
// existing one (where it is on the same filesystem and writable).
func (o *outputDir) stage() error {
	fi, err := checkDestination(o.path)
	if err != nil {
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	if fi != nil && !fi.IsDir() {
		return fmt.Errorf("output %s: not a directory", o.path)
	}
	o.existed = fi != nil
	abs, err := filepath.Abs(o.path)
	if err != nil {
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	dir, base := filepath.Split(abs)
	if o.existed {
		dir, base = abs, "secure-build-output"
	} else if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	if o.staging, err = mkdirBeside(dir, base); err != nil {
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	if o.layout && o.existed {
		// BuildKit adds the image to the layout's index.json: to a copy,
		// so that the old index stays until the build passed.
		for _, name := range []string{"index.json", "oci-layout"} {
			if err := copyRegular(filepath.Join(abs, name), filepath.Join(o.staging, name)); err != nil {
				o.finish(false)
				return fmt.Errorf("output %s: %w", o.path, err)
			}
		}
	}
	return nil
}

func (o *outputDir) finish(ok bool) error {
	if o.staging == "" {
		return nil
	}
	staging := o.staging
	o.staging = ""
	if !ok {
		return os.RemoveAll(staging)
	}
	if !o.existed {
		if err := os.Rename(staging, o.path); err != nil {
			os.RemoveAll(staging)
			return fmt.Errorf("output %s: %w", o.path, err)
		}
		return nil
	}
	defer os.RemoveAll(staging)
	if o.deleteOthers {
		if err := removeOthers(staging, o.path, filepath.Base(staging)); err != nil {
			return fmt.Errorf("output %s: %w", o.path, err)
		}
	}
	var skip []string
	if o.layout {
		// The store's own working files, and the index, moved last.
		skip = []string{"ingest", "index.json.lock", "index.json"}
	}
	if err := moveInto(staging, o.path, skip...); err != nil {
		return fmt.Errorf("output %s: %w", o.path, err)
	}
	if o.layout {
		if err := os.Rename(filepath.Join(staging, "index.json"), filepath.Join(o.path, "index.json")); err != nil {
			return fmt.Errorf("output %s: %w", o.path, err)
		}
	}
	return nil
}

// moveInto moves the entries of src into dst, merging folders that are
// folders in both; anything else at a name, a symbolic link included, is
// replaced, never followed.
func moveInto(src, dst string, skip ...string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if slices.Contains(skip, e.Name()) {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		there, err := os.Lstat(to)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case e.IsDir() && there.IsDir():
			if err := moveInto(from, to); err != nil {
				return err
			}
			continue
		case e.IsDir() || there.IsDir():
			// A rename replaces a file by a file and a folder by an empty
			// folder only.
			if err := os.RemoveAll(to); err != nil {
				return err
			}
		}
		if err := os.Rename(from, to); err != nil {
			return err
		}
	}
	return nil
}

// removeOthers removes what dst holds that want does not, as BuildKit's
// local exporter does with mode=delete; keep is dst's staging folder.
func removeOthers(want, dst, keep string) error {
	entries, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		path := filepath.Join(dst, e.Name())
		w, err := os.Lstat(filepath.Join(want, e.Name()))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.RemoveAll(path); err != nil {
				return err
			}
		case err != nil:
			return err
		case w.IsDir() && e.IsDir():
			if err := removeOthers(filepath.Join(want, e.Name()), path, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyRegular copies the regular file src to dst, when there is one.
func copyRegular(src, dst string) error {
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, fi.Mode().Perm())
}
