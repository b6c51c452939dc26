package sbom

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/osv-scalibr/extractor/filesystem"
)

// maxTraceLookups bounds the names looked up again after each layer to
// keep their versions: a few thousand package files in a few dozen layers
// take a few hundred thousand. Past it the trace stops and says so: the
// catalog itself is whole. A variable, for the test of the cut.
var maxTraceLookups = 1 << 22

// layerVersions keeps, for each name the catalog reads a package file at,
// the file found there after each layer: the changes only, in layer order.
type layerVersions struct {
	layers int
	names  map[string][]fileVersion
	// lastWriter is, for each file of the final tree whose data the
	// catalog reads, the layer that made its name; byContent says which of
	// them it reads for their content, not as binaries.
	lastWriter map[string]int
	byContent  map[string]bool
	lookups    int
	// cut says why the versions stopped being kept.
	cut string
}

// fileVersion is the file at a name from a layer on: nil data for none.
type fileVersion struct {
	layer int
	data  *fileData
}

func newLayerVersions(layers int) *layerVersions {
	v := &layerVersions{layers: layers, names: map[string][]fileVersion{}, lastWriter: map[string]int{}, byContent: map[string]bool{}}
	// The package databases may be reached through symlinks (see
	// wantLinkedDatabases): their names are watched from the start.
	for _, rel := range osDatabases {
		v.names[rel] = nil
	}
	for _, dir := range rpmDatabaseDirs {
		v.names[dir+"/rpmdb.sqlite-wal"], v.names[dir+"/rpmdb.sqlite-journal"] = nil, nil
	}
	return v
}

// watch keeps the versions of rel when the catalog reads it for its
// content (not a binary, known by the layer that wrote it). A name first
// seen in a later layer is taken as absent below it: were it reached
// through a symlink there, the package is given to a later layer, never to
// an earlier one.
func (v *layerVersions) watch(rel string, w want) {
	if v == nil || w != write || v.cut != "" {
		return
	}
	if _, ok := v.names[rel]; !ok {
		v.names[rel] = nil
	}
}

// wrote records the layer that made a final file's name, and whether the
// catalog reads it for its content.
func (v *layerVersions) wrote(rel string, layer int, w want) {
	if v != nil {
		v.lastWriter[rel] = layer
		v.byContent[rel] = w == write
	}
}

// recordVersions looks up every watched name in the tree the current
// layer leaves, as the container would see it (symlinks followed), and
// keeps a version that changed. A version whose data no name wanted when
// its layer was read (a database behind a symlink) is read again with the
// pending files.
func (a *applier) recordVersions() {
	v := a.versions
	if v == nil || v.cut != "" {
		return
	}
	for rel, have := range v.names {
		if v.lookups++; v.lookups > maxTraceLookups {
			v.cut = fmt.Sprintf("tracing the layers took more than %d lookups", maxTraceLookups)
			v.names = nil
			return
		}
		var d *fileData
		if n := a.resolveFinal(rel); n != nil && n.kind == fileNode {
			d = n.data
		}
		var last *fileData
		if len(have) > 0 {
			last = have[len(have)-1].data
		}
		if d == last {
			continue
		}
		v.names[rel] = append(have, fileVersion{layer: a.layer, data: d})
		if d == nil || d.blob != "" || d.cut != "" || d.pending || d.dropped {
			continue
		}
		if w, limit := a.wanted(rel, d.info(rel)); w == write {
			d.want, d.limit = w, max(d.limit, limit)
			d.pending = true
			if a.pending[d.layer] == nil {
				a.pending[d.layer] = map[int]*fileData{}
			}
			a.pending[d.layer][d.entry] = d
		}
	}
}

// at is the version of rel after layer k, nil when there is none.
func (v *layerVersions) at(rel string, k int) *fileData {
	var d *fileData
	for _, fv := range v.names[rel] {
		if fv.layer > k {
			break
		}
		d = fv.data
	}
	return d
}

// ImageLayers is what an image's unpack kept of each layer's version of
// the files the catalog read, to tell from which layer on a package is in
// the image. Close removes the versions from disk.
type ImageLayers struct {
	dir        string
	versions   *layerVersions
	extractors []filesystem.Extractor
	distro     *Distro
	final      rootFS
	found      map[versionKey]versionPackages
}

type versionKey struct {
	rel  string
	data *fileData
}

// versionPackages is what the extractors found in one version of a file.
type versionPackages struct {
	purls map[string]bool
	err   error
}

// ErrNotTraced is returned for a location whose versions were not kept: a
// binary, which only its last writer is known of, or a name the catalog
// reached another way.
var ErrNotTraced = errors.New("its versions in the layers were not kept")

// CatalogImageLayers catalogs img as CatalogImage does, and keeps what
// ImageLayers needs: the version after each layer of every file the
// catalog reads for its content (package databases, manifests, archives),
// within the same bounds. The caller closes the ImageLayers.
func CatalogImageLayers(ctx context.Context, img v1.Image, source string) (*SBOM, *ImageLayers, error) {
	return unpackAndCatalog(ctx, img, source, true, maxUnpackBytes)
}

// Len is the image's number of layers.
func (l *ImageLayers) Len() int { return l.versions.layers }

// Close removes what the unpack left on disk.
func (l *ImageLayers) Close() error {
	return os.RemoveAll(l.dir)
}

// LastWriter is the layer that wrote the file at location (an absolute
// path in the image, as a package's location), when the catalog read it.
func (l *ImageLayers) LastWriter(location string) (int, bool) {
	k, ok := l.versions.lastWriter[strings.TrimPrefix(location, "/")]
	return k, ok
}

// Traced says whether the file at location is followed through the
// layers by its content, so that Changed and Has are asked about it (and
// say why not when its versions could not be kept); false for a binary,
// known by its LastWriter.
func (l *ImageLayers) Traced(location string) bool {
	rel := strings.TrimPrefix(location, "/")
	_, ok := l.versions.names[rel]
	return ok || l.versions.byContent[rel]
}

// Changed says whether layer k (k ≥ 1) changed the file at location: a
// new version, or the file removed or made.
func (l *ImageLayers) Changed(location string, k int) (bool, error) {
	rel, err := l.traced(location)
	if err != nil {
		return false, err
	}
	return l.versions.at(rel, k) != l.versions.at(rel, k-1), nil
}

// Has says whether the package purl is in the file at location as layer k
// leaves the image: the extractors that read it in the final image read
// that layer's version, and name the package in the final image's purl
// form (its distribution is the final image's). A version a bound cut
// short, or one the extractors fail on, is an error: the layer cannot be
// told.
func (l *ImageLayers) Has(ctx context.Context, purl, location string, k int) (bool, error) {
	rel, err := l.traced(location)
	if err != nil {
		return false, err
	}
	d := l.versions.at(rel, k)
	if d == nil {
		return false, nil
	}
	key := versionKey{rel: rel, data: d}
	found, ok := l.found[key]
	if !ok {
		found = l.extract(ctx, rel, d, k)
		l.found[key] = found
	}
	return found.purls[purl], found.err
}

func (l *ImageLayers) traced(location string) (string, error) {
	if l.versions.cut != "" {
		return "", errors.New(l.versions.cut)
	}
	rel := strings.TrimPrefix(location, "/")
	if _, ok := l.versions.names[rel]; !ok {
		return "", fmt.Errorf("%s: %w", location, ErrNotTraced)
	}
	return rel, nil
}

// extract runs the extractors that want rel on the version d it has after
// layer k, with the other kept files as that layer leaves them around it.
func (l *ImageLayers) extract(ctx context.Context, rel string, d *fileData, k int) versionPackages {
	out := versionPackages{purls: map[string]bool{}}
	switch {
	case d.cut != "":
		out.err = fmt.Errorf("%s in layer %d: %s", slashPath(rel), d.layer, d.cut)
		return out
	case d.blob == "":
		out.err = fmt.Errorf("%s in layer %d: not unpacked", slashPath(rel), d.layer)
		return out
	}
	fsys := stateFS{final: l.final, versions: l.versions, layer: k}
	api := &resolvedFile{path: rel, info: d.info(rel)}
	for _, ex := range l.extractors {
		if !ex.FileRequired(api) {
			continue
		}
		f, err := os.Open(d.blob)
		if err != nil {
			out.err = fmt.Errorf("%s in layer %d: %w", slashPath(rel), d.layer, unwrapPathError(err))
			return out
		}
		inv, err := safeExtract(ctx, ex, &filesystem.ScanInput{FS: fsys, Path: rel, Info: api.info, Reader: f})
		f.Close()
		if err != nil {
			out.err = fmt.Errorf("%s in layer %d: %s: %v", slashPath(rel), d.layer, ex.Name(), unwrapPathError(err))
			return out
		}
		for _, p := range inv.Packages {
			if pkg, err := convert(p, l.distro); err == nil {
				out.purls[pkg.PURL] = true
			}
		}
	}
	return out
}

// stateFS shows extractors the image as a layer leaves it, as far as they
// can see it: the kept files at their version of that layer, everything
// else (folders, and files of no version) as the final image has it.
type stateFS struct {
	final    rootFS
	versions *layerVersions
	layer    int
}

func (s stateFS) version(name string) (blob string, kept bool, err error) {
	rel := path.Clean(name)
	if _, ok := s.versions.names[rel]; !ok {
		return "", false, nil
	}
	d := s.versions.at(rel, s.layer)
	switch {
	case d == nil:
		return "", true, fs.ErrNotExist
	case d.blob == "":
		return "", true, fmt.Errorf("not unpacked in layer %d", d.layer)
	}
	return d.blob, true, nil
}

func (s stateFS) Open(name string) (fs.File, error) {
	blob, kept, err := s.version(name)
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	case kept:
		return os.Open(blob)
	}
	return s.final.Open(name)
}

func (s stateFS) Stat(name string) (fs.FileInfo, error) {
	blob, kept, err := s.version(name)
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	case kept:
		fi, err := os.Stat(blob)
		if err != nil {
			return nil, &fs.PathError{Op: "stat", Path: name, Err: unwrapPathError(err)}
		}
		return entryInfo{name: path.Base(name), size: fi.Size(), mode: fi.Mode()}, nil
	}
	return s.final.Stat(name)
}

func (s stateFS) ReadDir(name string) ([]fs.DirEntry, error) {
	return s.final.ReadDir(name)
}

// unpackAndCatalog is CatalogImage, keeping the layers' versions when trace is
// set, the unpack bounded by budget.
func unpackAndCatalog(ctx context.Context, img v1.Image, source string, trace bool, budget int64) (*SBOM, *ImageLayers, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("digest of %s: %w", source, err)
	}
	config, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("config of %s: %w", source, err)
	}
	extractors, err := newExtractors()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "secure-build-image-")
	if err != nil {
		return nil, nil, fmt.Errorf("unpack %s: %w", source, err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	gaps, versions, err := unpack(ctx, img, dir, wantedBy(extractors), budget, trace)
	if err != nil {
		return nil, nil, fmt.Errorf("unpack %s: %w", source, err)
	}
	root := filepath.Join(dir, "root")
	s, err := catalogWith(ctx, root, source, extractors, nil)
	if err != nil {
		return nil, nil, err
	}
	s.Incomplete = SortGaps(append(s.Incomplete, gaps...))
	s.Image = &Image{Digest: digest.String(), Architecture: config.Architecture}
	if !trace {
		return s, nil, nil
	}
	keep = true
	return s, &ImageLayers{
		dir:        dir,
		versions:   versions,
		extractors: slices.Clone(extractors),
		distro:     s.Distro,
		final:      rootFS{root: root},
		found:      map[versionKey]versionPackages{},
	}, nil
}
