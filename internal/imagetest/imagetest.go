// Package imagetest builds image layers for tests from a layer spec (such
// as sbom/testdata/tricky-image/layers.txt) and lists a root filesystem the
// way the spec's expected tree is written, so that sbom's unit tests and
// the end-to-end test against BuildKit read and compare the same image.
package imagetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one entry of a layer tar.
type Entry struct {
	Name     string
	Typeflag byte
	Body     string
	Linkname string
}

// Tar is a layer tar of entries, in order: files 0644, folders 0755,
// devices 1,5 (/dev/zero).
func Tar(entries ...Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Typeflag: e.Typeflag, Linkname: e.Linkname, Mode: 0o644, Size: int64(len(e.Body)), Format: tar.FormatPAX}
		switch e.Typeflag {
		case tar.TypeDir:
			hdr.Mode = 0o755
		case tar.TypeChar, tar.TypeBlock:
			hdr.Devmajor, hdr.Devminor = 1, 5
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write tar entry %s: %w", e.Name, err)
		}
		if _, err := io.WriteString(tw, e.Body); err != nil {
			return nil, fmt.Errorf("write tar entry %s: %w", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	return buf.Bytes(), nil
}

// Layer is an uncompressed layer of Tar(entries...).
func Layer(entries ...Entry) (v1.Layer, error) {
	b, err := Tar(entries...)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// ReadLayers is the layers of a spec file (see ReadLayerSpec), bottom first.
func ReadLayers(file string) ([]v1.Layer, error) {
	spec, err := ReadLayerSpec(file)
	if err != nil {
		return nil, err
	}
	var layers []v1.Layer
	for i, entries := range spec {
		l, err := Layer(entries...)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", file, i+1, err)
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// ReadLayerSpec reads the layers of a spec file: one entry a line, fields
// Go-quoted (file NAME BODY, dir NAME, symlink NAME TARGET, hardlink NAME
// TARGET, npm DIR NAME VERSION), "layer" before each layer, "#" comments.
func ReadLayerSpec(file string) ([][]Entry, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var layers [][]Entry
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		var args []string
		for rest != "" {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, i+1, err)
			}
			s, _ := strconv.Unquote(q) // q is a valid quoted string
			args = append(args, s)
			rest = strings.TrimPrefix(rest[len(q):], " ")
		}
		var e Entry
		switch {
		case kind == "layer" && len(args) == 0:
			layers = append(layers, nil)
			continue
		case len(layers) == 0:
			return nil, fmt.Errorf("%s:%d: an entry before the first layer", file, i+1)
		case kind == "file" && len(args) == 2:
			e = Entry{Name: args[0], Typeflag: tar.TypeReg, Body: args[1]}
		case kind == "dir" && len(args) == 1:
			e = Entry{Name: args[0], Typeflag: tar.TypeDir}
		case kind == "symlink" && len(args) == 2:
			e = Entry{Name: args[0], Typeflag: tar.TypeSymlink, Linkname: args[1]}
		case kind == "hardlink" && len(args) == 2:
			e = Entry{Name: args[0], Typeflag: tar.TypeLink, Linkname: args[1]}
		case kind == "npm" && len(args) == 3:
			body := `{"name": "` + args[1] + `", "version": "` + args[2] + `"}`
			e = Entry{Name: args[0] + "/node_modules/" + args[1] + "/package.json", Typeflag: tar.TypeReg, Body: body}
		default:
			return nil, fmt.Errorf("%s:%d: cannot read %q", file, i+1, line)
		}
		layers[len(layers)-1] = append(layers[len(layers)-1], e)
	}
	return layers, nil
}

// TreeListing lists the files and symlinks under root, one a line, sorted:
// "/path file BODY" or "/path symlink TARGET", Go-quoted; anything else as
// "/path MODE".
func TreeListing(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := "/" + filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%s symlink %q", rel, target))
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%s file %q", rel, b))
		default:
			out = append(out, rel+" "+d.Type().String())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	slices.Sort(out)
	return out, nil
}
