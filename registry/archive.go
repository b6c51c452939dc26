package registry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An image tar is read in place: one pass over its headers notes where each
// file's bytes are, and each blob is then read from there when it is
// wanted, its digest checked. Nothing is extracted to disk, and memory holds
// the table of files, not their content.
const (
	// maxTarFiles bounds the table: an image tar holds a few files a layer.
	maxTarFiles = 1 << 16
	// maxManifestSize bounds an index, a manifest or a config read into
	// memory; registries refuse manifests over 4 MiB.
	maxManifestSize = 8 << 20
	// maxTarName bounds a name in the table: a blob's is "blobs/sha512/"
	// and 128 hex digits; docker save's older files are "HEX/layer.tar"
	// and "HEX.json". A longer name is not an image's, and is not kept.
	maxTarName = 160
)

// The files by which an image tar is recognised.
const (
	tarOCILayoutFile = "oci-layout"    // an OCI image layout
	tarOCIIndexFile  = "index.json"    // its index
	tarDockerFile    = "manifest.json" // docker save's list of images
)

// imageTar is the table of an image tar: where each of its files starts and
// how long it is.
type imageTar struct {
	path    string
	entries map[string]tarEntry // cleaned name -> place
}

type tarEntry struct{ offset, size int64 }

// readImageTar reads the headers of the tar file and notes where each
// regular file is, skipping the content. A truncated or corrupt tar is an
// error naming the file.
func readImageTar(file string) (*imageTar, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a tar", file)
	}
	t := &imageTar{path: file, entries: map[string]tarEntry{}}
	tr := tar.NewReader(f) // an *os.File: the content is skipped by seeking
	i := 0
	for ; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if i == 0 {
				return nil, notATar(f, file, err)
			}
			return nil, fmt.Errorf("%s is a truncated or corrupt tar (after %d entries): %w", file, i, err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "/"))
		if hdr.Typeflag != tar.TypeReg || len(name) > maxTarName {
			continue
		}
		if len(t.entries) == maxTarFiles {
			return nil, fmt.Errorf("%s holds more than %d files: not an image tar", file, maxTarFiles)
		}
		offset, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		t.entries[name] = tarEntry{offset: offset, size: hdr.Size}
	}
	if i > 0 && !endsWithZeroBlock(f, fi.Size()) {
		return nil, fmt.Errorf("%s is a truncated or corrupt tar (after %d entries): no end-of-archive marker", file, i)
	}
	return t, nil
}

// endsWithZeroBlock says whether the tar's last 512-byte block is zeros, as
// every tar writer ends an archive. Go's reader takes a tar cut at a block
// boundary for a whole one; this tells them apart.
func endsWithZeroBlock(f *os.File, size int64) bool {
	var block [512]byte
	if size < int64(len(block)) {
		return false
	}
	if _, err := f.ReadAt(block[:], size-int64(len(block))); err != nil {
		return false
	}
	return block == [512]byte{}
}

func (t *imageTar) has(name string) bool {
	_, ok := t.entries[name]
	return ok
}

// isOCILayout says whether the tar holds an OCI image layout.
func (t *imageTar) isOCILayout() bool { return t.has(tarOCILayoutFile) && t.has(tarOCIIndexFile) }

// isDockerArchive says whether the tar holds docker save's manifest.json.
func (t *imageTar) isDockerArchive() bool { return t.has(tarDockerFile) }

// open opens a file of the tar; the reader closes the tar when closed.
func (t *imageTar) open(name string) (io.ReadCloser, int64, error) {
	e, ok := t.entries[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s has no %s", t.path, name)
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil, 0, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, e.offset, e.size), f}, e.size, nil
}

// blob opens the blob of digest, whose bytes are checked against it as
// they are read: the last read fails when they differ.
func (t *imageTar) blob(digest v1.Hash) (io.ReadCloser, int64, error) {
	if digest.Algorithm != "sha256" {
		return nil, 0, fmt.Errorf("blob %s in %s: only sha256 digests are read", digest, t.path)
	}
	rc, size, err := t.open("blobs/sha256/" + digest.Hex)
	if err != nil {
		return nil, 0, err
	}
	return &digestReader{rc: rc, hash: sha256.New(), want: digest, what: "blob " + digest.String() + " in " + t.path}, size, nil
}

// readAll reads a whole small file of the tar: the index, a manifest or a
// config. Blobs are checked against their digest.
func (t *imageTar) readAll(name string, digest *v1.Hash) ([]byte, error) {
	var rc io.ReadCloser
	var size int64
	var err error
	if digest != nil {
		rc, size, err = t.blob(*digest)
	} else {
		rc, size, err = t.open(name)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxManifestSize {
		return nil, fmt.Errorf("%s in %s: %d bytes, more than the %d a manifest may have", name, t.path, size, maxManifestSize)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", name, t.path, err)
	}
	return b, nil
}

// digestReader fails the read that ends the stream when its bytes do not
// have the digest wanted: a flipped byte or a short file is an error, not
// a different image.
type digestReader struct {
	rc   io.ReadCloser
	hash hash.Hash
	want v1.Hash
	what string
}

func (r *digestReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.hash.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(r.hash.Sum(nil)); got != r.want.Hex {
			return n, fmt.Errorf("%s: its content has digest sha256:%s: the tar is corrupt", r.what, got)
		}
	}
	return n, err
}

func (r *digestReader) Close() error { return r.rc.Close() }

// ociIndex is an index of the OCI layout in a tar: index.json, or an index
// blob it names.
type ociIndex struct {
	tar       *imageTar
	raw       []byte
	mediaType types.MediaType
}

var _ v1.ImageIndex = (*ociIndex)(nil)

// openTarLayout reads the index.json of the OCI layout in t.
func openTarLayout(t *imageTar) (*ociIndex, error) {
	raw, err := t.readAll(tarOCIIndexFile, nil)
	if err != nil {
		return nil, err
	}
	return &ociIndex{tar: t, raw: raw, mediaType: types.OCIImageIndex}, nil
}

func (i *ociIndex) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *ociIndex) Digest() (v1.Hash, error)            { return partial.Digest(i) }
func (i *ociIndex) Size() (int64, error)                { return partial.Size(i) }
func (i *ociIndex) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *ociIndex) IndexManifest() (*v1.IndexManifest, error) {
	m, err := v1.ParseIndexManifest(bytes.NewReader(i.raw))
	if err != nil {
		return nil, fmt.Errorf("index in %s: %w", i.tar.path, err)
	}
	return m, nil
}

// descriptor finds h among the index's manifests.
func (i *ociIndex) descriptor(h v1.Hash) (v1.Descriptor, error) {
	m, err := i.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range m.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("the index in %s has no manifest %s", i.tar.path, h)
}

func (i *ociIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := i.descriptor(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("%s in %s is a %s, not an image manifest", h, i.tar.path, d.MediaType)
	}
	raw, err := i.tar.readAll("manifest "+h.String(), &h)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&ociImage{tar: i.tar, raw: raw, mediaType: d.MediaType})
}

func (i *ociIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := i.descriptor(h)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s in %s is a %s, not an index", h, i.tar.path, d.MediaType)
	}
	raw, err := i.tar.readAll("index "+h.String(), &h)
	if err != nil {
		return nil, err
	}
	return &ociIndex{tar: i.tar, raw: raw, mediaType: d.MediaType}, nil
}

// ociImage is an image manifest of the OCI layout in a tar.
type ociImage struct {
	tar       *imageTar
	raw       []byte
	mediaType types.MediaType
}

var _ partial.CompressedImageCore = (*ociImage)(nil)

func (img *ociImage) MediaType() (types.MediaType, error) { return img.mediaType, nil }
func (img *ociImage) RawManifest() ([]byte, error)        { return img.raw, nil }

func (img *ociImage) RawConfigFile() ([]byte, error) {
	m, err := partial.Manifest(img)
	if err != nil {
		return nil, err
	}
	return img.tar.readAll("config "+m.Config.Digest.String(), &m.Config.Digest)
}

// LayerByDigest opens a layer, or the config, of the manifest.
func (img *ociImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := partial.Manifest(img)
	if err != nil {
		return nil, err
	}
	if m.Config.Digest == h {
		return &ociBlob{tar: img.tar, desc: m.Config}, nil
	}
	for _, l := range m.Layers {
		if l.Digest == h {
			return &ociBlob{tar: img.tar, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("the manifest in %s has no layer %s", img.tar.path, h)
}

// ociBlob is a layer of an image in a tar, as its manifest describes it.
type ociBlob struct {
	tar  *imageTar
	desc v1.Descriptor
}

func (b *ociBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *ociBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *ociBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *ociBlob) Compressed() (io.ReadCloser, error) {
	rc, size, err := b.tar.blob(b.desc.Digest)
	if err != nil {
		return nil, err
	}
	if size != b.desc.Size {
		rc.Close()
		return nil, fmt.Errorf("blob %s in %s: %d bytes, its manifest says %d: the tar is corrupt", b.desc.Digest, b.tar.path, size, b.desc.Size)
	}
	return rc, nil
}

// notATar says why file, which did not read as a tar, is not one.
func notATar(f *os.File, file string, err error) error {
	var magic [2]byte
	if _, rerr := f.ReadAt(magic[:], 0); rerr == nil && magic == [2]byte{0x1f, 0x8b} {
		return fmt.Errorf("%s is gzip-compressed: an image tar is read uncompressed (gunzip it first)", file)
	}
	return fmt.Errorf("%s is not a tar: %w", file, err)
}
