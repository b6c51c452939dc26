// Package dbimage packs the vulnerability database folder as an OCI image:
// an ordinary image config and one layer holding the archive files at its
// root. BuildKit reads only image-shaped content from a registry, so this is
// how CI and air-gapped sites mirror the database and hand it to a build
// (the context secure-build-db=docker-image://REF, or the build arg
// SECURE_BUILD_DB_IMAGE=REF).
package dbimage

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-build/secure-build/vuln"
)

// LabelUpdated is the config label that says when each archive was last
// imported, as JSON: {"Debian": "2026-11-27T05:00:00Z", ...}.
const LabelUpdated = "dev.secure-build.db.updated"

// Image packs the database in dir into an image, writing its layer under
// tmp. The archive files go in as they are (import packs them), and the
// image's creation time is the oldest archive's import, so its age is the
// data's age. Close removes the layer file.
func Image(dir, tmp string) (*Packed, error) {
	db, err := vuln.Open(dir)
	if err != nil {
		return nil, err
	}
	updated := db.Updated()
	oldest := db.Oldest()
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", dir, err)
	}
	work, err := os.MkdirTemp(tmp, "secure-build-db-image-")
	if err != nil {
		return nil, fmt.Errorf("pack the database: %w", err)
	}
	p := &Packed{work: work}
	layerPath := filepath.Join(work, "layer.tar")
	var files []string
	for archive := range updated {
		files = append(files, archive+".db")
	}
	sort.Strings(files)
	if err := writeLayer(layerPath, dir, files); err != nil {
		p.Close()
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerPath, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pack the database: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pack the database: %w", err)
	}
	label, err := json.Marshal(updated)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pack the database: %w", err)
	}
	diffID, err := layer.DiffID()
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pack the database: %w", err)
	}
	// An OCI manifest wants an OCI config: some registries check.
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	p.Image, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Created:      v1.Time{Time: oldest.UTC()},
		OS:           "linux",
		Architecture: runtime.GOARCH,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		Config:       v1.Config{Labels: map[string]string{LabelUpdated: string(label)}},
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pack the database: %w", err)
	}
	return p, nil
}

// Packed is a packed database image and the scratch files behind its layer.
type Packed struct {
	v1.Image
	work string
}

// Close removes the scratch files.
func (p *Packed) Close() error {
	return os.RemoveAll(p.work)
}

// writeLayer writes the archive files into one tar at path, each at the
// layer's root, read-only, owned by root, with a
// fixed time so that the same data gives the same layer.
func writeLayer(path, dir string, files []string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("pack the database: %w", err)
	}
	tw := tar.NewWriter(f)
	for _, name := range files {
		if err := addFile(tw, filepath.Join(dir, name), name); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("pack the database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pack the database: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pack the database: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("pack the database: %w", err)
	}
	hdr := &tar.Header{Name: name, Mode: 0o444, Size: fi.Size(), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("pack the database: %w", err)
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("pack the database: %w", err)
	}
	return nil
}
