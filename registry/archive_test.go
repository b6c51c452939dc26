package registry

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarOf writes the files under dir into a new tar, as BuildKit's
// "-o type=oci,dest=FILE" does: names relative to dir, folders omitted.
func tarOf(t testing.TB, dir string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return file
}

// ociTar is the tar of an OCI layout holding a multi-platform index tagged
// "multi", as BuildKit exports an image with attestations.
func ociTar(t testing.TB) (file string, here v1.Image) {
	t.Helper()
	idx, here, _, _ := platformIndex(t)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	return tarOf(t, dir), here
}

// readLayers reads every layer of img to its end, as the catalog does.
func readLayers(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// TestOpenOCILayoutTar: the tar of an OCI layout opens as oci-layout:FILE,
// docker-archive:FILE and, by its content, as FILE; its layers read whole.
func TestOpenOCILayoutTar(t *testing.T) {
	file, here := ociTar(t)
	checkOpens(t, OCILayoutPrefix+file, here)
	checkOpens(t, OCILayoutPrefix+file+":multi", here)
	checkOpens(t, DockerArchivePrefix+file, here)
	img, err := OpenTar(file)
	if err != nil {
		t.Fatalf("OpenTar(%s): %v", file, err)
	}
	if got := digestOf(t, img); got != digestOf(t, here) {
		t.Errorf("OpenTar(%s) gave image %s, want %s", file, got, digestOf(t, here))
	}
	if err := readLayers(img); err != nil {
		t.Errorf("read the layers of %s: %v", file, err)
	}
	checkFails(t, map[string]string{OCILayoutPrefix + file + ":v9": `OCI layout ` + file + ` has no image tagged "v9"`})

	// Of a tar holding two images, docker-archive: says how to name one.
	v1Image := randomImage(t)
	two := tarOf(t, writeLayout(t, map[string]v1.Image{"v1": v1Image, "v2": randomImage(t)}))
	checkFails(t, map[string]string{DockerArchivePrefix + two: "holds 2 images: name one as oci-layout:" + two + ":TAG or oci-layout:" + two + "@DIGEST"})
	checkOpens(t, OCILayoutPrefix+two+":v1", v1Image)
}

// TestOpenDockerTar: a tar written by docker save opens by its content,
// and as oci-layout: it says to open it as docker-archive:.
func TestOpenDockerTar(t *testing.T) {
	img := randomImage(t)
	file := filepath.Join(t.TempDir(), "saved.tar")
	if err := tarball.WriteToFile(file, mustRef(t, "example.com/app:v1"), img); err != nil {
		t.Fatal(err)
	}
	got, err := OpenTar(file)
	if err != nil {
		t.Fatalf("OpenTar(%s): %v", file, err)
	}
	if gotConfig, _ := got.ConfigName(); gotConfig != func() v1.Hash { h, _ := img.ConfigName(); return h }() {
		t.Errorf("OpenTar(%s): config %s", file, gotConfig)
	}
	checkFails(t, map[string]string{OCILayoutPrefix + file: "it is a docker save archive, open it as docker-archive:" + file})
}

// TestOpenTarDamaged: a truncated tar, a changed byte in a blob, a file
// that is no tar or a tar of something else are errors naming the file.
func TestOpenTarDamaged(t *testing.T) {
	file, _ := ociTar(t)
	whole, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	truncated := write("truncated.tar", whole[:len(whole)/2+100])
	text := write("notes.txt", []byte(strings.Repeat("not a tar\n", 100)))
	gz := filepath.Join(dir, "image.tar.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write(whole)
	zw.Close()
	f.Close()
	other := tarOf(t, writeTree(t, map[string]string{"etc/hostname": "box\n"}))
	huge := tarOf(t, writeTree(t, map[string]string{"manifest.json": "[" + strings.Repeat(" ", maxManifestSize) + "]"}))
	hugeConfig := tarOf(t, writeTree(t, map[string]string{
		"manifest.json": `[{"Config":"big.json","RepoTags":[],"Layers":[]}]`,
		"big.json":      "{" + strings.Repeat(" ", maxManifestSize) + "}",
	}))
	for file, want := range map[string]string{
		truncated:  truncated + " is a truncated or corrupt tar",
		text:       text + " is not a tar",
		gz:         gz + " is gzip-compressed: an image tar is read uncompressed (gunzip it first)",
		other:      other + " is a tar, but neither a docker save archive (no manifest.json) nor an OCI image layout",
		huge:       "open docker archive " + huge + ": its manifest.json has 8388610 bytes, more than the 8388608 it may have",
		hugeConfig: "open docker archive " + hugeConfig + ": its config big.json has 8388610 bytes, more than the 8388608 it may have",
	} {
		if _, err := OpenTar(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("OpenTar(%s): %v, want an error containing %q", file, err, want)
		}
	}
	checkFails(t, map[string]string{DockerArchivePrefix + truncated: "open docker archive: " + truncated + " is a truncated or corrupt tar"})

	// A changed byte in a layer: the layer's read fails, naming the blob and the file.
	img, here := ociTar(t)
	layers, err := here.Layers()
	if err != nil {
		t.Fatal(err)
	}
	compressed, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 64)
	if _, err := io.ReadFull(compressed, head); err != nil {
		t.Fatal(err)
	}
	compressed.Close()
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	at := strings.Index(string(b), string(head))
	if at < 0 {
		t.Fatal("the layer's bytes are not in the tar")
	}
	b[at+40] ^= 0xff
	flipped := write("flipped.tar", b)
	opened, err := OpenTar(flipped)
	if err != nil {
		t.Fatal(err)
	}
	openedLayers, err := opened.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := openedLayers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err == nil || !strings.Contains(err.Error(), "in "+flipped+": its content has digest") {
		t.Errorf("read a changed layer: %v, want an error naming the blob and %s", err, flipped)
	}
}

// writeTree writes files (name -> content) under a new folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestOpenTarReadsInPlace: opening an image tar and reading its layers
// writes nothing to disk.
func TestOpenTarReadsInPlace(t *testing.T) {
	file, _ := ociTar(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	img, err := OpenTar(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := readLayers(img); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("opening %s wrote %d files to the temporary folder", file, len(entries))
	}
}
