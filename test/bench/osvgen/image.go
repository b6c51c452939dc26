package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawLayer is a layer stored as it is, uncompressed, as "docker save"
// writes layers: its blob is the tar, its digest the tar's digest.
type rawLayer struct {
	v1.Layer
	path string
}

func (l rawLayer) Digest() (v1.Hash, error)            { return l.DiffID() }
func (l rawLayer) Compressed() (io.ReadCloser, error)  { return l.Uncompressed() }
func (l rawLayer) MediaType() (types.MediaType, error) { return types.DockerUncompressedLayer, nil }
func (l rawLayer) Size() (int64, error) {
	fi, err := os.Stat(l.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// runImage writes a docker-archive ("docker save" format) of one image
// whose only layer is the given tar of a root filesystem.
func runImage(args []string) error {
	fs := flag.NewFlagSet("image", flag.ExitOnError)
	layerPath := fs.String("layer", "", "uncompressed tar of the root filesystem")
	out := fs.String("out", "", "docker-archive to write")
	tag := fs.String("tag", "secure-build-bench/debian:12", "image reference in the archive")
	gzipLayer := fs.Bool("gzip", false, "store the layer gzipped (default: uncompressed, as docker save does)")
	fs.Parse(args)
	if *layerPath == "" || *out == "" {
		return fmt.Errorf("-layer and -out are required")
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromFile(*layerPath)
	if err != nil {
		return err
	}
	if !*gzipLayer {
		layer = rawLayer{layer, *layerPath}
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Created = v1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Config.Cmd = []string{"/bin/bash"}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	tmp := *out + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, *out)
}
