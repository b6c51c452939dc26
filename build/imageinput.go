package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageInput is a few files of this machine sent to the builder as an
// image of one zstd-compressed layer, named by its manifest's digest and
// served from this process through the build's session (an OCI layout
// context, as --build-context name=oci-layout://... is). BuildKit keys the
// steps that use it by that digest and takes the layer only when it does
// not hold it already; a local input would be sent whole, file by file, on
// every cold build. BuildKit fetches it as soon as the build starts, beside
// the build context and the base image, so it is kept small: the layer is
// compressed once and kept in a cache of this user's (cachedLayer).
type ImageInput struct {
	// Name is the named context the frontend loads it as, and the id of
	// its store in the session.
	Name   string
	Digest digest.Digest
	// Size is the compressed layer's size in bytes.
	Size  int64
	store *imageStore
}

// LayerFile is a file of an ImageInput's layer.
type LayerFile struct {
	// Name is its path in the image, relative.
	Name string
	// Host is the file on this machine; or Data, when set, is its content
	// (a file of mode 0644).
	Host string
	Data []byte
}

// layerEpoch is the time of every file in a layer: the same files make the
// same layer, and so the same digest, on every machine.
var layerEpoch = time.Unix(0, 0).UTC()

// NewImageInput makes an image for platform, the builder's (a step runs an
// image of its own platform), of one layer kept in the private folder cache
// (cachedLayer): sources name it, and make, when the cache has no layer for
// them as they are, checks them and returns the files it holds; a nil make
// puts the sources themselves in it.
func NewImageInput(name string, platform ocispecs.Platform, cache string, sources []LayerFile, make func() ([]LayerFile, error)) (*ImageInput, error) {
	if make == nil {
		make = func() ([]LayerFile, error) { return sources, nil }
	}
	layer, err := cachedLayer(cache, name, sources, make)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	layerDesc := ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageLayerZstd, Digest: layer.Digest, Size: layer.Size}
	config, err := json.Marshal(ocispecs.Image{
		Platform: ocispecs.Platform{OS: platform.OS, Architecture: platform.Architecture, Variant: platform.Variant},
		RootFS:   ocispecs.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.DiffID}},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: image config: %w", name, err)
	}
	configDesc := ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))}
	manifest, err := json.Marshal(ocispecs.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispecs.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispecs.Descriptor{layerDesc},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: image manifest: %w", name, err)
	}
	md := digest.FromBytes(manifest)
	return &ImageInput{
		Name:   name,
		Digest: md,
		Size:   layer.Size,
		store: &imageStore{
			blobs: map[digest.Digest][]byte{md: manifest, configDesc.Digest: config},
			layer: layer,
		},
	}, nil
}

// AddTo makes the input the build's named context in.Name.
func (in *ImageInput) AddTo(solve *client.SolveOpt) {
	solve.OCIStores[in.Name] = in.store
	solve.FrontendAttrs["context:"+in.Name] = "oci-layout://" + in.Name + "@" + in.Digest.String()
}

// tarLayer is a tar stream made of header blocks held in memory and file
// contents read from the files when the stream is read.
type tarLayer struct {
	parts []tarPart
	size  int64
}

// tarPart is size bytes of the stream from offset: data, or the first size
// bytes of the file host.
type tarPart struct {
	offset int64
	size   int64
	data   []byte
	host   string
}

func newTarLayer(files []LayerFile) (*tarLayer, error) {
	files = sortedFiles(files)
	l := &tarLayer{}
	dirs := map[string]bool{}
	for _, f := range files {
		size, mode := int64(len(f.Data)), int64(0o644)
		if f.Data == nil {
			fi, err := os.Stat(f.Host)
			if err != nil {
				return nil, err
			}
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("%s is not a regular file", f.Host)
			}
			size, mode = fi.Size(), int64(fi.Mode().Perm())
		}
		name := path.Clean(f.Name)
		for _, dir := range parents(name) {
			if !dirs[dir] {
				dirs[dir] = true
				if err := l.addHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: layerEpoch}); err != nil {
					return nil, err
				}
			}
		}
		if err := l.addHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: layerEpoch}); err != nil {
			return nil, err
		}
		if f.Data != nil {
			l.add(tarPart{data: f.Data})
		} else {
			l.add(tarPart{size: size, host: f.Host})
		}
		if pad := (512 - size%512) % 512; pad > 0 {
			l.add(tarPart{data: make([]byte, pad)})
		}
	}
	// The end of the archive: two zero blocks.
	l.add(tarPart{data: make([]byte, 1024)})
	return l, nil
}

// addHeader adds a file's header blocks; its content is added apart.
func (l *tarLayer) addHeader(hdr *tar.Header) error {
	var b bytes.Buffer
	// Only the header is written: a tar.Writer would want the content too
	// before the next header, and in the end a Close.
	if err := tar.NewWriter(&b).WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar header of %s: %w", hdr.Name, err)
	}
	l.add(tarPart{data: b.Bytes()})
	return nil
}

func (l *tarLayer) add(p tarPart) {
	if p.data != nil {
		p.size = int64(len(p.data))
	}
	if p.size == 0 {
		return
	}
	p.offset = l.size
	l.parts = append(l.parts, p)
	l.size += p.size
}

// parents are the folders a path is in, outermost first.
func parents(name string) []string {
	var out []string
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		out = append(out, dir)
	}
	slices.Reverse(out)
	return out
}

// readerAt reads the stream, opening each file as it is reached. A file
// that changed size since the layer was planned fails the read.
func (l *tarLayer) readerAt() *layerReader {
	return &layerReader{layer: l, files: map[string]*os.File{}}
}

type layerReader struct {
	layer *tarLayer
	files map[string]*os.File
}

func (r *layerReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.layer.size {
			return n, io.EOF
		}
		i, _ := slices.BinarySearchFunc(r.layer.parts, pos, func(p tarPart, pos int64) int {
			switch {
			case p.offset+p.size <= pos:
				return -1
			case p.offset > pos:
				return 1
			}
			return 0
		})
		part := r.layer.parts[i]
		want := min(int64(len(p)-n), part.offset+part.size-pos)
		if part.data != nil {
			n += copy(p[n:int64(n)+want], part.data[pos-part.offset:])
			continue
		}
		f, err := r.open(part.host)
		if err != nil {
			return n, err
		}
		m, err := f.ReadAt(p[n:int64(n)+want], pos-part.offset)
		n += m
		if err == io.EOF && int64(m) < want {
			return n, fmt.Errorf("%s is shorter than when it was sent: %w", part.host, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			return n, err
		}
	}
	return n, nil
}

func (r *layerReader) open(host string) (*os.File, error) {
	if f, ok := r.files[host]; ok {
		return f, nil
	}
	f, err := os.Open(host)
	if err != nil {
		return nil, err
	}
	r.files[host] = f
	return f, nil
}

func (r *layerReader) Size() int64 { return r.layer.size }

func (r *layerReader) Close() error {
	var first error
	for _, f := range r.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	clear(r.files)
	return first
}

// imageStore serves one image to the builder: its manifest and config from
// memory, its layer from the layer cache. It is read-only: the builder only
// asks for content by digest, and checks what it takes against it.
type imageStore struct {
	blobs map[digest.Digest][]byte
	layer *compressedLayer
}

func (s *imageStore) Info(_ context.Context, dgst digest.Digest) (content.Info, error) {
	if b, ok := s.blobs[dgst]; ok {
		return content.Info{Digest: dgst, Size: int64(len(b))}, nil
	}
	if dgst == s.layer.Digest {
		return content.Info{Digest: dgst, Size: s.layer.Size}, nil
	}
	return content.Info{}, fmt.Errorf("content %s: %w", dgst, cerrdefs.ErrNotFound)
}

func (s *imageStore) ReaderAt(_ context.Context, desc ocispecs.Descriptor) (content.ReaderAt, error) {
	if b, ok := s.blobs[desc.Digest]; ok {
		return &bytesReaderAt{bytes.NewReader(b)}, nil
	}
	if desc.Digest == s.layer.Digest {
		f, err := os.Open(s.layer.path)
		if err != nil {
			return nil, fmt.Errorf("content %s: %w", desc.Digest, err)
		}
		return &fileReaderAt{File: f, size: s.layer.Size}, nil
	}
	return nil, fmt.Errorf("content %s: %w", desc.Digest, cerrdefs.ErrNotFound)
}

func (s *imageStore) Update(context.Context, content.Info, ...string) (content.Info, error) {
	return content.Info{}, fmt.Errorf("update: %w", cerrdefs.ErrNotImplemented)
}

func (s *imageStore) Walk(context.Context, content.WalkFunc, ...string) error {
	return fmt.Errorf("walk: %w", cerrdefs.ErrNotImplemented)
}

func (s *imageStore) Delete(context.Context, digest.Digest) error {
	return fmt.Errorf("delete: %w", cerrdefs.ErrNotImplemented)
}

func (s *imageStore) Status(context.Context, string) (content.Status, error) {
	return content.Status{}, fmt.Errorf("status: %w", cerrdefs.ErrNotImplemented)
}

func (s *imageStore) ListStatuses(context.Context, ...string) ([]content.Status, error) {
	return nil, fmt.Errorf("list statuses: %w", cerrdefs.ErrNotImplemented)
}

func (s *imageStore) Abort(context.Context, string) error {
	return fmt.Errorf("abort: %w", cerrdefs.ErrNotImplemented)
}

func (s *imageStore) Writer(context.Context, ...content.WriterOpt) (content.Writer, error) {
	return nil, fmt.Errorf("write: %w", cerrdefs.ErrNotImplemented)
}

type bytesReaderAt struct{ *bytes.Reader }

func (bytesReaderAt) Close() error { return nil }

type fileReaderAt struct {
	*os.File
	size int64
}

func (r *fileReaderAt) Size() int64 { return r.size }
