package sbom

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Bounds on an image unpack. The data of the files the catalog reads is
// written to disk, never held in memory: maxUnpackBytes bounds what one
// unpack holds there at once, maxUnpackedFileSize what one file may hold
// (a package database or manifest is bounded by maxMetadataFileSize, as
// the catalog bounds it). The tree of names is kept in memory, in at most
// maxTreeBytes: a name costs nodeCost (measured: 200,000 names took 243
// bytes each, 22 of them the name) and its length, so the largest images,
// a few hundred thousand files, fit well. A name is no longer than
// maxImagePath, a part of it than maxNameLen (the kernel's PATH_MAX and
// NAME_MAX: containerd could not make a longer one either).
const (
	maxUnpackBytes      = 4 << 30
	maxUnpackedFileSize = maxArchiveBytes
	maxTreeBytes        = 256 << 20
	nodeCost            = 224
	maxImagePath        = 4096
	maxNameLen          = 255
	// maxLinkHops is continuity's bound on the symlinks RootPath follows in
	// a name; maxResolveSteps bounds the folders looked at again, after a
	// symlink, in one unpack (a name's first walk is bounded by its length).
	maxLinkHops     = 255
	maxResolveSteps = 1 << 22
)

// Whiteout names, as the OCI image spec defines them.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// nodeKind is what a name in the image's tree is.
type nodeKind uint8

const (
	dirNode nodeKind = iota
	fileNode
	symlinkNode
	// otherNode is a device or a fifo: it takes a name and holds nothing
	// the catalog reads, and is never made.
	otherNode
	// whiteoutNode is a whited-out name. It shows as nothing, but, as the
	// character device overlay's applier makes for it, it is a file of its
	// layer: a later entry of that layer may replace it, not go under it.
	whiteoutNode
)

// node is one name in the image's tree as the layers applied so far leave it.
type node struct {
	kind nodeKind
	// upper is the last layer whose overlay upper folder holds this name:
	// the layer made it, or (a folder) made it again as a parent of one of
	// its entries. An opaque folder keeps only what its own layer holds.
	upper    int
	children map[string]*node // dirNode
	target   string           // symlinkNode
	data     *fileData        // fileNode: shared by hard links
	want     want             // fileNode: whether the catalog reads it under this name
}

// fileData is a regular file's content: where it is in the image, and the
// blob it was written to.
type fileData struct {
	layer, entry int
	size         int64
	mode         fs.FileMode
	want         want  // the most any of its names wants
	limit        int64 // the most its data may take on disk
	blob         string
	// cut says why the data was not written completely.
	cut string
	// dropped is set when the data was read, as an executable only the Go
	// and Rust extractors could want, and was neither.
	dropped bool
	// pending is set while the data waits for a second read of its layer.
	pending bool
}

// info shows the file, under the name rel, to wantedBy.
func (d *fileData) info(rel string) fs.FileInfo {
	return entryInfo{name: path.Base(rel), size: d.size, mode: d.mode}
}

// entryInfo is the little of a tar header an extractor's FileRequired
// looks at; the header itself is not kept.
type entryInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (e entryInfo) Name() string       { return e.name }
func (e entryInfo) Size() int64        { return e.size }
func (e entryInfo) Mode() fs.FileMode  { return e.mode }
func (e entryInfo) ModTime() time.Time { return time.Time{} }
func (e entryInfo) IsDir() bool        { return e.mode.IsDir() }
func (e entryInfo) Sys() any           { return nil }

// applier applies an image's layers, one at a time from the bottom, as
// containerd's archive.Apply does on the overlay snapshotter BuildKit and
// Docker use: each layer is applied to its own upper folder, so while it is
// applied only its own symlinks are followed in entry names (a lower
// layer's symlink or file in the way is hidden by a new folder); a whiteout
// hides the name (and, like the device overlay makes for it, is a file of
// its layer that no later entry of the layer can go under); an opaque
// marker hides what lower layers put in its folder; a later entry of the
// same name replaces the earlier one; and a folder merges with a folder.
// Names are cleaned against "/" first, so none leaves the root. A hard link
// shares its target's data. Two cases overlay's applier refuses are
// applied as containerd's naive applier does: a hard link to a lower
// layer's file, and folders made implicitly where a lower layer has a file.
// The tree lives in memory; only the data of the files the catalog reads is
// written out, and the tree is made on disk once every layer is applied.
type applier struct {
	ctx    context.Context
	root   *node
	blobs  string
	wanted func(rel string, info fs.FileInfo) (want, int64)
	budget int64 // bytes left to write
	total  int64
	// treeBytes is what the tree takes in memory, as charge counts it.
	treeBytes int
	blobN     int
	layer     int
	entry     int
	steps     int
	// opaqued holds the folders of the current layer made opaque already.
	opaqued map[*node]bool
	// pending[layer][entry] is data a hard link wants that was not written
	// when its layer was read.
	pending map[int]map[int]*fileData
	// versions, when tracing, keeps each layer's version of the files the
	// catalog reads.
	versions *layerVersions
}

// unpackImage applies img's layers and makes under dir/root the tree they
// leave, with the data of the files wanted says the catalog reads. A file
// whose data a bound cut short is left out and named in the result. A
// layer that cannot be read completely, or that containerd could not apply
// (a hard link to nothing, a name under a file), is an error.
func unpackImage(ctx context.Context, img v1.Image, dir string, wanted func(string, fs.FileInfo) (want, int64), budget int64) ([]Incompleteness, error) {
	gaps, _, err := unpack(ctx, img, dir, wanted, budget, false)
	return gaps, err
}

// unpack is unpackImage; with trace, it also keeps each layer's version of
// the files the catalog reads (layerVersions).
func unpack(ctx context.Context, img v1.Image, dir string, wanted func(string, fs.FileInfo) (want, int64), budget int64, trace bool) ([]Incompleteness, *layerVersions, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("read layers: %w", err)
	}
	a := &applier{
		ctx:     ctx,
		root:    &node{kind: dirNode, children: map[string]*node{}},
		blobs:   filepath.Join(dir, "blobs"),
		wanted:  wanted,
		budget:  budget,
		total:   budget,
		pending: map[int]map[int]*fileData{},
	}
	if trace {
		a.versions = newLayerVersions(len(layers))
	}
	if err := os.Mkdir(a.blobs, 0o700); err != nil {
		return nil, nil, err
	}
	for i, l := range layers {
		a.layer, a.opaqued = i, map[*node]bool{}
		if err := a.readLayer(l, a.applyEntry); err != nil {
			return nil, nil, layerError(i, l, err)
		}
		a.recordVersions()
	}
	a.wantLinkedDatabases()
	for _, i := range slices.Sorted(maps.Keys(a.pending)) {
		want := a.pending[i]
		a.layer = i
		err := a.readLayer(layers[i], func(hdr *tar.Header, r io.Reader) error {
			if d := want[a.entry]; d != nil {
				delete(want, a.entry)
				if err := a.writeData(d, r); err != nil {
					return err
				}
			}
			if len(want) == 0 {
				return errDone
			}
			return nil
		})
		if err == nil && len(want) != 0 {
			err = errors.New("the layer changed between two reads")
		}
		if err != nil {
			return nil, nil, layerError(i, layers[i], err)
		}
	}
	var gaps []Incompleteness
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, nil, err
	}
	if err := a.place(a.root, "", root, &gaps); err != nil {
		return nil, nil, err
	}
	return gaps, a.versions, nil
}

// wantLinkedDatabases marks for writing the package databases the
// container reaches through symlinks (var/lib/dpkg -> /data/dpkg): what is
// wanted goes by name, and the file's own name is one no extractor knows.
// The catalog then reads them through the links it is given.
func (a *applier) wantLinkedDatabases() {
	paths := slices.Clone(osDatabases)
	for _, dir := range rpmDatabaseDirs {
		paths = append(paths, dir+"/rpmdb.sqlite-wal", dir+"/rpmdb.sqlite-journal")
	}
	for _, dir := range osDatabaseDirs {
		if n := a.resolveFinal(dir); n != nil && n.kind == dirNode {
			for name := range n.children {
				paths = append(paths, path.Join(dir, name))
			}
		}
	}
	for _, rel := range paths {
		n := a.resolveFinal(rel)
		if n == nil || n.kind != fileNode {
			continue
		}
		d := n.data
		w, limit := a.wanted(rel, d.info(rel))
		if w == skip {
			continue
		}
		n.want = max(n.want, w)
		d.want, d.limit = max(d.want, w), max(d.limit, limit)
		if d.blob == "" && d.cut == "" && !d.pending {
			d.pending = true
			if a.pending[d.layer] == nil {
				a.pending[d.layer] = map[int]*fileData{}
			}
			a.pending[d.layer][d.entry] = d
		}
	}
}

// resolveFinal finds rel in the tree all layers leave, following every
// symlink as the kernel does in the container: an absolute target from the
// root, ".." never above it. It returns nil for a name that is not there, or
// a loop.
func (a *applier) resolveFinal(rel string) *node {
	parts := strings.Split(rel, "/")
	dirs := []*node{a.root}
	hops := 0
	for i := 0; i < len(parts); i++ {
		cur := dirs[len(dirs)-1]
		switch c := parts[i]; c {
		case "", ".":
			continue
		case "..":
			if len(dirs) > 1 {
				dirs = dirs[:len(dirs)-1]
			}
			continue
		}
		n := cur.children[parts[i]]
		switch {
		case n == nil || n.kind == whiteoutNode:
			return nil
		case n.kind == symlinkNode:
			if hops++; hops > maxLinkHops {
				return nil
			}
			if strings.HasPrefix(n.target, "/") {
				dirs = dirs[:1]
			}
			parts = append(strings.Split(n.target, "/"), parts[i+1:]...)
			i = -1
		case n.kind == dirNode:
			dirs = append(dirs, n)
		case i == len(parts)-1:
			return n
		default:
			return nil // a file in the middle of the name
		}
	}
	return dirs[len(dirs)-1]
}

// errDone stops a layer's read early.
var errDone = errors.New("done")

func layerError(i int, l v1.Layer, err error) error {
	if d, derr := l.Digest(); derr == nil {
		return fmt.Errorf("layer %d (%s): %w", i, d, err)
	}
	return fmt.Errorf("layer %d: %w", i, err)
}

// readLayer hands fn each entry of the layer, counting them in a.entry,
// until fn says errDone or the tar ends. Then it reads the stream to its
// end, as containerd does, so that a reader that checks the layer's digest
// sees all of it.
func (a *applier) readLayer(l v1.Layer, fn func(*tar.Header, io.Reader) error) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for a.entry = 0; ; a.entry++ {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := fn(hdr, tr); errors.Is(err, errDone) {
			// Read on to the end all the same: a registry that serves
			// other bytes the second time fails the layer's digest.
			break
		} else if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("read past the tar's end: %w", err)
	}
	return rc.Close()
}

// charge counts bytes of memory the tree takes.
func (a *applier) charge(bytes int) error {
	a.treeBytes += bytes
	if a.treeBytes > maxTreeBytes {
		return fmt.Errorf("the image's names take more than %d bytes", maxTreeBytes)
	}
	return nil
}

// newNode makes the node of a name, whose last part is name.
func (a *applier) newNode(kind nodeKind, name string) (*node, error) {
	if len(name) > maxNameLen {
		return nil, fmt.Errorf("a part of the name longer than %d bytes", maxNameLen)
	}
	if err := a.charge(nodeCost + len(name)); err != nil {
		return nil, err
	}
	n := &node{kind: kind, upper: a.layer}
	if kind == dirNode {
		n.children = map[string]*node{}
	}
	return n, nil
}

// cleanName makes a tar name relative to the root, "" for the root itself.
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (a *applier) applyEntry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name := cleanName(hdr.Name)
	if name == "" {
		return nil
	}
	dir, base := path.Split(name)
	dir, err := a.resolve(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return err
	}
	parent, err := a.mkparent(dir)
	if err != nil {
		return err
	}
	rel := path.Join(dir, base)
	if len(rel) > maxImagePath {
		return fmt.Errorf("name longer than %d bytes", maxImagePath)
	}
	if base == whiteoutOpaque {
		if !a.opaqued[parent] {
			a.opaqued[parent] = true
			a.opaque(parent)
		}
		return nil
	}
	if orig, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		if orig == "" || orig == "." || orig == ".." {
			return fmt.Errorf("invalid whiteout name %q", base)
		}
		n, err := a.newNode(whiteoutNode, orig)
		if err != nil {
			return err
		}
		parent.children[orig] = n
		return nil
	}
	if have := parent.children[base]; have != nil && have.kind == dirNode && hdr.Typeflag == tar.TypeDir {
		have.upper = a.layer
		return nil
	}
	delete(parent.children, base)
	n, err := a.entryNode(hdr, r, rel, base)
	if err != nil {
		return err
	}
	parent.children[base] = n
	return nil
}

func (a *applier) entryNode(hdr *tar.Header, r io.Reader, rel, base string) (*node, error) {
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.newNode(dirNode, base)
	case tar.TypeReg:
		n, err := a.newNode(fileNode, base)
		if err != nil {
			return nil, err
		}
		d := &fileData{layer: a.layer, entry: a.entry, size: hdr.Size, mode: hdr.FileInfo().Mode()}
		n.data = d
		n.want, d.limit = a.wanted(rel, d.info(rel))
		d.want = n.want
		a.versions.watch(rel, n.want)
		if n.want != skip {
			if err := a.writeData(d, r); err != nil {
				return nil, err
			}
		}
		return n, nil
	case tar.TypeSymlink:
		if len(hdr.Linkname) > maxImagePath {
			return nil, fmt.Errorf("symlink target longer than %d bytes", maxImagePath)
		}
		n, err := a.newNode(symlinkNode, base)
		if err != nil {
			return nil, err
		}
		n.target = hdr.Linkname
		return n, a.charge(len(n.target))
	case tar.TypeLink:
		return a.hardlink(hdr.Linkname, rel)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.newNode(otherNode, base)
	}
	// containerd's applier fails on any other type as well.
	return nil, fmt.Errorf("unhandled tar entry type %q", hdr.Typeflag)
}

// hardlink makes rel a new name of what linkname names, found as
// containerd's hardlinkRootPath finds it.
func (a *applier) hardlink(linkname, rel string) (*node, error) {
	dir, base := path.Split(cleanName(linkname))
	dir, err := a.resolve(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	target := a.lookup(path.Join(dir, base))
	switch {
	case target == nil || target.kind == whiteoutNode || base == "":
		return nil, fmt.Errorf("hard link to %s: no such file", linkname)
	case target.kind == dirNode:
		return nil, fmt.Errorf("hard link to %s: a directory", linkname)
	}
	n, err := a.newNode(target.kind, path.Base(rel))
	if err != nil {
		return nil, err
	}
	switch target.kind {
	case symlinkNode:
		n.target = target.target
		if err := a.charge(len(n.target)); err != nil {
			return nil, err
		}
	case fileNode:
		d := target.data
		n.data = d
		var limit int64
		n.want, limit = a.wanted(rel, d.info(rel))
		a.versions.watch(rel, n.want)
		if n.want > d.want {
			d.want, d.limit = n.want, max(d.limit, limit)
		}
		if n.want != skip && d.blob == "" && d.cut == "" && !(d.dropped && n.want == writeIfBinary) && !d.pending {
			d.pending = true
			if a.pending[d.layer] == nil {
				a.pending[d.layer] = map[int]*fileData{}
			}
			a.pending[d.layer][d.entry] = d
		}
	}
	return n, nil
}

// lookup returns the node at rel without following symlinks, nil if there
// is none.
func (a *applier) lookup(rel string) *node {
	n := a.root
	if rel == "" {
		return n
	}
	for c := range strings.SplitSeq(rel, "/") {
		if n.kind != dirNode {
			return nil
		}
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

// resolve follows, in the folder rel, the symlinks the current layer made,
// inside the root, as continuity's RootPath does in the layer's upper
// folder: a lower layer's symlink is not in that folder, and is not
// followed.
func (a *applier) resolve(rel string) (string, error) {
	for hops := 0; ; hops++ {
		next, followed, steps := a.followOnce(rel)
		if hops > 0 {
			a.steps += steps
		}
		if a.steps > maxResolveSteps {
			return "", fmt.Errorf("following symlinks in names took more than %d steps", maxResolveSteps)
		}
		if !followed {
			return rel, nil
		}
		if hops == maxLinkHops {
			return "", fmt.Errorf("%s: more than %d symlinks", rel, maxLinkHops)
		}
		if len(next) > maxImagePath {
			return "", fmt.Errorf("%s: resolves to a name longer than %d bytes", rel, maxImagePath)
		}
		rel = next
	}
}

// followOnce follows the first symlink of the current layer in rel, and
// says how many folders it looked at.
func (a *applier) followOnce(rel string) (next string, followed bool, steps int) {
	if rel == "" {
		return rel, false, 0
	}
	comps := strings.Split(rel, "/")
	n := a.root
	for i, c := range comps {
		child := n.children[c]
		switch {
		case child == nil:
			return rel, false, i + 1
		case child.kind == symlinkNode && child.upper == a.layer:
			target := child.target
			if !path.IsAbs(target) {
				target = path.Join(strings.Join(comps[:i], "/"), target)
			}
			return cleanName(target + "/" + strings.Join(comps[i+1:], "/")), true, i + 1
		case child.kind != dirNode:
			return rel, false, i + 1
		}
		n = child
	}
	return rel, false, len(comps)
}

// mkparent makes the folders of rel in the current layer, as containerd's
// mkparent does in its upper folder: a lower layer's file or symlink in the
// way is hidden by the new folder; one of the current layer is an error.
func (a *applier) mkparent(rel string) (*node, error) {
	n := a.root
	if rel == "" {
		return n, nil
	}
	for i, c := range strings.Split(rel, "/") {
		child := n.children[c]
		switch {
		case child != nil && child.kind == dirNode:
			child.upper = a.layer
		case child != nil && child.upper == a.layer:
			return nil, fmt.Errorf("%s is not a directory", strings.Join(strings.Split(rel, "/")[:i+1], "/"))
		default:
			d, err := a.newNode(dirNode, c)
			if err != nil {
				return nil, err
			}
			n.children[c] = d
			child = d
		}
		n = child
	}
	return n, nil
}

// opaque hides, under dir, what lower layers put there: overlay looks no
// further down below an opaque folder, so only the current layer's names
// stay, at any depth.
func (a *applier) opaque(dir *node) {
	for name, child := range dir.children {
		switch {
		case child.upper != a.layer:
			delete(dir.children, name)
		case child.kind == dirNode:
			a.opaque(child)
		}
	}
}

// writeData writes a file's data to a blob of its own, at most its limit
// and what is left of the budget. Data a bound cuts short is dropped and
// the file marked cut; an executable that holds no Go or Rust build data is
// dropped. An error reading r is the layer's error.
func (a *applier) writeData(d *fileData, r io.Reader) error {
	d.pending = false
	limit := min(d.limit, a.budget)
	a.blobN++
	blob := filepath.Join(a.blobs, strconv.Itoa(a.blobN))
	f, err := os.OpenFile(blob, os.O_RDWR|os.O_CREATE|os.O_EXCL, d.mode.Perm()|0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, limit))
	a.budget -= n
	keep := false
	defer func() {
		if !keep {
			os.Remove(blob)
			a.budget += n
		}
	}()
	if err != nil {
		f.Close()
		return err
	}
	switch {
	case n == limit && d.size > limit && limit == d.limit:
		d.cut = fmt.Sprintf("larger than %d bytes: not unpacked", d.limit)
	case n == limit && d.size > limit:
		d.cut = fmt.Sprintf("the image unpack's budget of %d bytes is spent: not unpacked", a.total)
	case d.want == writeIfBinary && !binaryOfInterest(f):
		d.dropped = true
	default:
		keep = true
		d.blob = blob
	}
	return f.Close()
}

// place makes on disk, at dst, the tree under n: folders as the parents of
// what is made, every symlink, and the wanted files as hard links to their
// blobs (so hard links in the image stay one file). A wanted file cut short
// is named in gaps instead.
func (a *applier) place(n *node, rel, dst string, gaps *[]Incompleteness) error {
	made := false
	mkdir := func() error {
		if made {
			return nil
		}
		made = true
		return os.MkdirAll(dst, 0o755)
	}
	for name, child := range n.children {
		crel, cdst := path.Join(rel, name), filepath.Join(dst, name)
		var err error
		switch child.kind {
		case dirNode:
			err = a.place(child, crel, cdst, gaps)
		case symlinkNode:
			if err = mkdir(); err == nil {
				err = os.Symlink(child.target, cdst)
			}
		case fileNode:
			switch d := child.data; {
			case child.want == skip:
			case d.cut != "":
				*gaps = append(*gaps, Incompleteness{Path: slashPath(crel), Reason: d.cut})
			case d.blob != "":
				if err = mkdir(); err == nil {
					err = os.Link(d.blob, cdst)
				}
				a.versions.wrote(crel, child.upper, child.want)
			}
		}
		if err != nil {
			return fmt.Errorf("make %s: %w", slashPath(crel), unwrapPathError(err))
		}
	}
	return nil
}
