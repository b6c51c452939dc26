package sbom

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
)

// Catalog walks the root filesystem at root and returns its packages. source
// names the root in the SBOM (a directory, an image reference). A file that
// decides findings and cannot be read or parsed completely is named in the
// result's Incomplete list; the walk goes on.
func Catalog(ctx context.Context, root, source string) (*SBOM, error) {
	return CatalogFound(ctx, root, source, nil)
}

// CatalogFound is Catalog that also shows found each package as the walk
// first finds it, one call at a time, so that a caller starts its work on
// the package before the walk ends (a scan expands the database archives it
// needs). found must return quickly: the walk waits for it.
func CatalogFound(ctx context.Context, root, source string, found func(Package)) (*SBOM, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", source, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("catalog %s: not a directory", source)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", source, err)
	}
	extractors, err := newExtractors()
	if err != nil {
		return nil, err
	}
	return catalogWith(ctx, abs, source, extractors, found)
}

func catalogWith(ctx context.Context, abs, source string, extractors []filesystem.Extractor, found func(Package)) (*SBOM, error) {
	c := &cataloger{
		onFound:    found,
		ctx:        ctx,
		root:       abs,
		fsys:       rootFS{root: abs},
		extractors: extractors,
		found:      map[string]*Package{},
		seen:       map[string]bool{},
		sem:        make(chan struct{}, 2*runtime.GOMAXPROCS(0)),
	}
	c.distro = c.readDistro()
	c.walkDir(".")
	c.wg.Wait()
	c.visitLinkedDatabases()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", source, err)
	}
	return c.result(source), nil
}

// cataloger is one walk over one root. Directories are read in parallel, up
// to a bounded number of goroutines; results merge under mu.
type cataloger struct {
	ctx        context.Context
	root       string
	fsys       rootFS
	extractors []filesystem.Extractor
	distro     *Distro
	sem        chan struct{}
	wg         sync.WaitGroup

	// onFound, when set, is shown each package as it is found.
	onFound func(Package)

	mu    sync.Mutex
	found map[string]*Package
	gaps  []Incompleteness
	// seen are the files an extractor read, by path.
	seen map[string]bool
}

// incomplete records that what decides findings at rel could not be read
// completely.
func (c *cataloger) incomplete(rel string, format string, args ...any) {
	c.mu.Lock()
	// Some extractors name the file by its host path: the reader knows it
	// by its path in the image.
	reason := strings.ReplaceAll(fmt.Sprintf(format, args...), c.root+"/", "/")
	c.gaps = append(c.gaps, Incompleteness{Path: slashPath(rel), Reason: reason})
	c.mu.Unlock()
}

func (c *cataloger) readDistro() *Distro {
	m, name, err := readOSRelease(c.fsys)
	if err != nil {
		if !errors.Is(err, errNoOSRelease) {
			c.incomplete(name, "%v", err)
		}
		return nil
	}
	d := &Distro{ID: m["ID"], VersionID: m["VERSION_ID"], VersionCodename: m["VERSION_CODENAME"], PrettyName: m["PRETTY_NAME"]}
	if d.ID == "" {
		c.incomplete(name, "no ID field")
		return nil
	}
	return d
}

// skipDirs hold the kernel's views and nothing an image ships.
var skipDirs = map[string]bool{"proc": true, "sys": true, "dev": true}

// walkDir reads one directory. It never follows a symlink: the walk sees each
// file where it really is, and a link's target, if inside the root, is
// visited there. Devices, fifos and sockets are never opened.
func (c *cataloger) walkDir(rel string) {
	if c.ctx.Err() != nil {
		return
	}
	entries, err := os.ReadDir(filepath.Join(c.root, filepath.FromSlash(rel)))
	if err != nil {
		c.incomplete(rel, "%v", unwrapPathError(err))
		return
	}
	var batch []fs.DirEntry
	for _, e := range entries {
		switch t := e.Type(); {
		case t.IsDir():
			if rel == "." && skipDirs[e.Name()] {
				continue
			}
			p := path.Join(rel, e.Name())
			c.spawn(func() { c.walkDir(p) })
		case t.IsRegular():
			batch = append(batch, e)
			if len(batch) == fileBatchSize {
				files := batch
				c.spawn(func() { c.visitFiles(rel, files) })
				batch = nil
			}
		}
	}
	c.visitFiles(rel, batch)
}

// fileBatchSize splits a large directory (/usr/bin, a node_modules) into
// pieces that run in parallel.
const fileBatchSize = 64

// spawn runs f on its own goroutine while fewer than cap(c.sem) are busy,
// else on the caller's.
func (c *cataloger) spawn(f func()) {
	select {
	case c.sem <- struct{}{}:
		c.wg.Add(1)
		go func() {
			defer func() { <-c.sem; c.wg.Done() }()
			f()
		}()
	default:
		f()
	}
}

func (c *cataloger) visitFiles(dir string, files []fs.DirEntry) {
	for _, e := range files {
		if c.ctx.Err() != nil {
			return
		}
		c.visitFile(path.Join(dir, e.Name()), e)
	}
}

// fileAPI gives extractors the path and a stat made only when one asks.
type fileAPI struct {
	path  string
	entry fs.DirEntry
	info  fs.FileInfo
	err   error
	done  bool
}

func (f *fileAPI) Path() string { return f.path }

func (f *fileAPI) Stat() (fs.FileInfo, error) {
	if !f.done {
		f.done = true
		f.info, f.err = f.entry.Info()
	}
	return f.info, f.err
}

func (c *cataloger) visitFile(rel string, e fs.DirEntry) {
	open := func() (*os.File, error) {
		return os.OpenFile(filepath.Join(c.root, filepath.FromSlash(rel)), os.O_RDONLY|openNoFollow, 0)
	}
	c.extract(&fileAPI{path: rel, entry: e}, open, c.root)
}

// extract runs the extractors that want the file api names, opening it once.
// root is the host folder that holds it at api's path for the extractors
// that open it by name; "" makes them read a copy.
func (c *cataloger) extract(api filesystem.FileAPI, open func() (*os.File, error), root string) {
	rel := api.Path()
	var file *os.File
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	for _, ex := range c.extractors {
		if !ex.FileRequired(api) {
			continue
		}
		if file == nil {
			f, err := open()
			if err != nil {
				c.incomplete(rel, "%v", unwrapPathError(err))
				return
			}
			file = f
			c.markSeen(rel)
		} else if _, err := file.Seek(0, io.SeekStart); err != nil {
			c.incomplete(rel, "%v", unwrapPathError(err))
			return
		}
		info, err := api.Stat()
		if err != nil {
			c.incomplete(rel, "%v", unwrapPathError(err))
			return
		}
		inv, err := safeExtract(c.ctx, ex, &filesystem.ScanInput{FS: c.fsys, Path: rel, Root: root, Info: info, Reader: file})
		if err != nil {
			// Extractors return what they parsed before the error: keep it.
			c.incomplete(rel, "%s: %v", ex.Name(), unwrapPathError(err))
		}
		c.add(inv.Packages)
	}
}

func (c *cataloger) markSeen(rel string) {
	c.mu.Lock()
	c.seen[rel] = true
	c.mu.Unlock()
}

// osDatabases are where package managers keep their databases, which the
// extractors know by these exact paths. A root may reach one through a
// symlink (var/lib/dpkg -> /data/dpkg, as some images do to keep it on a
// volume): the walk, which never follows links, sees the file only where it
// is, under a name no extractor knows. The container reads it here.
var osDatabases = func() []string {
	out := []string{"var/lib/dpkg/status", "usr/lib/opkg/status", "lib/apk/db/installed"}
	for _, dir := range rpmDatabaseDirs {
		for _, name := range []string{"Packages", "Packages.db", "rpmdb.sqlite"} {
			out = append(out, dir+"/"+name)
		}
	}
	return out
}()

// rpmDatabaseDirs are the folders rpm keeps its database in, as osv-scalibr's
// rpm extractor knows them.
var rpmDatabaseDirs = []string{"var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"}

// osDatabaseDirs hold one database file per package (distroless images).
var osDatabaseDirs = []string{"var/lib/dpkg/status.d"}

// visitLinkedDatabases reads the package databases the walk did not see at
// their own paths, resolving every symlink on the way as the kernel would
// inside the container: never above the root.
func (c *cataloger) visitLinkedDatabases() {
	paths := slices.Clone(osDatabases)
	for _, dir := range osDatabaseDirs {
		entries, err := c.fsys.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				c.incomplete(dir, "%v", unwrapPathError(err))
			}
			continue
		}
		for _, e := range entries {
			paths = append(paths, path.Join(dir, e.Name()))
		}
	}
	for _, rel := range paths {
		if c.seen[rel] || c.ctx.Err() != nil {
			continue
		}
		info, err := c.fsys.Stat(rel)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			continue
		case err != nil:
			c.incomplete(rel, "%v", unwrapPathError(err))
			continue
		case info.IsDir():
			continue
		case !info.Mode().IsRegular():
			c.incomplete(rel, "%v", errSpecialFile)
			continue
		}
		c.extract(&resolvedFile{path: rel, info: info}, c.opener(rel), "")
	}
}

// opener opens rel where the container would find it, symlinks resolved
// inside the root.
func (c *cataloger) opener(rel string) func() (*os.File, error) {
	return func() (*os.File, error) {
		f, err := c.fsys.Open(rel)
		if err != nil {
			return nil, err
		}
		return f.(*os.File), nil
	}
}

// resolvedFile is a file reached through symlinks, stat'ed where it is.
type resolvedFile struct {
	path string
	info fs.FileInfo
}

func (f *resolvedFile) Path() string               { return f.path }
func (f *resolvedFile) Stat() (fs.FileInfo, error) { return f.info, nil }

func (c *cataloger) add(pkgs []*extractor.Package) {
	if len(pkgs) == 0 {
		return
	}
	converted := make([]Package, 0, len(pkgs))
	for _, p := range pkgs {
		pkg, err := convert(p, c.distro)
		if err != nil {
			c.incomplete(p.Location.PathOrEmpty(), "%v", err)
			continue
		}
		converted = append(converted, pkg)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pkg := range converted {
		if have, ok := c.found[pkg.PURL]; ok {
			have.Locations = append(have.Locations, pkg.Locations...)
			have.Licenses = append(have.Licenses, pkg.Licenses...)
			continue
		}
		c.found[pkg.PURL] = &pkg
		if c.onFound != nil {
			c.onFound(pkg)
		}
	}
}

// result sorts everything so that the same root gives the same SBOM.
func (c *cataloger) result(source string) *SBOM {
	s := &SBOM{Source: source, Distro: c.distro, Packages: make([]Package, 0, len(c.found))}
	for _, p := range c.found {
		p.Locations = sortedUnique(p.Locations)
		p.Licenses = sortedUnique(p.Licenses)
		s.Packages = append(s.Packages, *p)
	}
	slices.SortFunc(s.Packages, func(a, b Package) int { return strings.Compare(a.PURL, b.PURL) })
	s.Incomplete = SortGaps(c.gaps)
	return s
}

func sortedUnique(s []string) []string {
	s = slices.DeleteFunc(s, func(v string) bool { return v == "" })
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// SortGaps returns gaps sorted by path and reason, without repeats, in a
// new slice: every list of incompleteness is shown in this order.
func SortGaps(gaps []Incompleteness) []Incompleteness {
	if len(gaps) == 0 {
		return nil
	}
	out := slices.Clone(gaps)
	slices.SortFunc(out, func(a, b Incompleteness) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Reason, b.Reason))
	})
	return slices.Compact(out)
}

// safeExtract runs one extractor, turning a panic in it (a parser of
// someone else's file that trusted it) into an error: the file is then
// named as not read, and the rest of the scan goes on.
func safeExtract(ctx context.Context, ex filesystem.Extractor, in *filesystem.ScanInput) (inv inventory.Inventory, err error) {
	defer func() {
		if r := recover(); r != nil {
			inv, err = inventory.Inventory{}, fmt.Errorf("the parser failed on this file: %v", r)
		}
	}()
	return ex.Extract(ctx, in)
}
