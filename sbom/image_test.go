package sbom

import (
	"archive/tar"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/secure-build/secure-build/internal/imagetest"
)

// tarEntry is one entry of a layer tar written by a test.
type tarEntry struct {
	name     string
	typ      byte
	body     string
	linkname string
}

func file(name, body string) tarEntry { return tarEntry{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) tarEntry        { return tarEntry{name: name, typ: tar.TypeDir} }
func link(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeSymlink, linkname: target}
}
func hardlink(name, target string) tarEntry {
	return tarEntry{name: name, typ: tar.TypeLink, linkname: target}
}

// specEntries are entries as imagetest writes them.
func specEntries(entries []tarEntry) []imagetest.Entry {
	out := make([]imagetest.Entry, len(entries))
	for i, e := range entries {
		out[i] = imagetest.Entry{Name: e.name, Typeflag: e.typ, Body: e.body, Linkname: e.linkname}
	}
	return out
}

func tarBytes(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	b, err := imagetest.Tar(specEntries(entries)...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func layer(t *testing.T, entries ...tarEntry) v1.Layer {
	t.Helper()
	l, err := imagetest.Layer(specEntries(entries)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func image(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func npmPackage(name, version string) string {
	return `{"name": "` + name + `", "version": "` + version + `"}`
}

// hostileImage has two layers. The second whites out files and makes a
// directory opaque, and it holds a symlink to "/../../etc" and a file
// written through it (containerd follows a symlink of the same layer in a
// name, inside the root), absolute names, a hard link to a file of the layer
// below, a relative link that climbs out (kept, as a link), and device and
// fifo entries. The first holds a hard link whose target the second whites
// out: the link keeps the data.
func hostileImage(t *testing.T, marker string) v1.Image {
	t.Helper()
	base := layer(t,
		dir("etc"),
		file("etc/os-release", debianOSRelease),
		file("etc/passwd", "root:x:0:0:image:/root:/bin/sh\n"),
		file("var/lib/dpkg/status", dpkgStatus),
		file("srv/node_modules/gone/package.json", npmPackage("gone", "1.0.0")),
		file("srv/node_modules/kept/package.json", npmPackage("kept", "1.0.0")),
		file("srv/opq/node_modules/old/package.json", npmPackage("old", "1.0.0")),
		file("srv/opq/node_modules/old2/package.json", npmPackage("old2", "1.0.0")),
		file("./srv/dotslash/node_modules/dot/package.json", npmPackage("dot", "1.0.0")),
		file("usr/bin/perl5.36.0", "\x7fELF perl"),
		hardlink("usr/bin/perl", "usr/bin/perl5.36.0"),
	)
	top := layer(t,
		file("srv/node_modules/.wh.gone", ""),
		file("srv/opq/.wh..wh..opq", ""),
		file("usr/bin/.wh.perl5.36.0", ""),
		file("srv/opq/node_modules/new/package.json", npmPackage("new", "2.0.0")),
		link("etc-link", "/../../etc"),
		file("etc-link/"+marker, "written through a link\n"),
		link("srv/evil", "/../../srv/target"),
		dir("srv/target"),
		file("srv/evil/node_modules/through/package.json", npmPackage("through", "1.0.0")),
		file("/abs/node_modules/abs/package.json", npmPackage("abs", "1.0.0")),
		hardlink("srv/hard/passwd", "/etc/passwd"),
		link("srv/climb", "../../../../../../tmp"),
		tarEntry{name: "dev/zero", typ: tar.TypeChar},
		tarEntry{name: "run/fifo", typ: tar.TypeFifo},
	)
	return image(t, base, top)
}

// writeAll wants every file, with the largest per-file bound.
func writeAll(string, fs.FileInfo) (want, int64) { return write, maxUnpackedFileSize }

// unpackForTest unpacks img with wanted into a new folder and returns its
// root and the files cut short.
func unpackForTest(t *testing.T, img v1.Image, wanted func(string, fs.FileInfo) (want, int64), budget int64) (string, []Incompleteness) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "unpack")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	gaps, err := unpackImage(context.Background(), img, dir, wanted, budget)
	if err != nil {
		t.Fatalf("unpackImage: %v", err)
	}
	return filepath.Join(dir, "root"), gaps
}

// TestUnpackImage applies a hostile image's layers and checks the tree.
func TestUnpackImage(t *testing.T) {
	marker := "secure-build-test-" + filepath.Base(t.TempDir())
	root, gaps := unpackForTest(t, hostileImage(t, marker), writeAll, maxUnpackBytes)
	if len(gaps) != 0 {
		t.Errorf("gaps %v", gaps)
	}
	exists := func(p string) bool {
		_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p)))
		return err == nil
	}
	for _, p := range []string{
		"etc/os-release", "srv/node_modules/kept/package.json", "srv/opq/node_modules/new/package.json",
		"abs/node_modules/abs/package.json", "srv/hard/passwd", "srv/dotslash/node_modules/dot/package.json",
		"srv/target/node_modules/through/package.json", "etc/" + marker, "srv/climb", "usr/bin/perl",
	} {
		if !exists(p) {
			t.Errorf("%s is missing", p)
		}
	}
	for _, p := range []string{
		"srv/node_modules/gone", "srv/node_modules/.wh.gone", "srv/opq/node_modules/old", "srv/opq/node_modules/old2",
		"srv/opq/.wh..wh..opq", "dev/zero", "run/fifo", "usr/bin/perl5.36.0", "usr/bin/.wh.perl5.36.0",
	} {
		if exists(p) {
			t.Errorf("%s exists", p)
		}
	}
	// Links are kept as written, for rootFS to resolve inside the root.
	if target, err := os.Readlink(filepath.Join(root, "etc-link")); err != nil || target != "/../../etc" {
		t.Errorf("etc-link -> %q, %v", target, err)
	}
	// Nothing was written through a link to the host.
	for _, p := range []string{"/etc/" + marker, "/srv/target/node_modules/through"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was written on the host", p)
		}
	}
	// The hard link is to the image's /etc/passwd.
	a, errA := os.Stat(filepath.Join(root, "etc/passwd"))
	b, errB := os.Stat(filepath.Join(root, "srv/hard/passwd"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("srv/hard/passwd is not a hard link of the image's etc/passwd: %v %v", errA, errB)
	}
	// A hard link keeps the data its whited-out target had.
	if b, err := os.ReadFile(filepath.Join(root, "usr/bin/perl")); err != nil || string(b) != "\x7fELF perl" {
		t.Errorf("usr/bin/perl reads %q, %v", b, err)
	}
	// Everything is inside root.
	filepath.Walk(filepath.Dir(root), func(p string, info os.FileInfo, err error) error {
		if err == nil && !strings.HasPrefix(p, filepath.Dir(root)) {
			t.Errorf("%s written outside the unpack folder", p)
		}
		return nil
	})
}

// isolateTemp points the unpacking at a temporary folder of the test's own
// and checks it is left empty.
func isolateTemp(t *testing.T) string {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "x", "y", "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	t.Cleanup(func() {
		if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
			t.Errorf("unpacked images left behind in %s: %v", tmp, entries)
		}
	})
	return tmp
}

func checkHostileImageCatalog(t *testing.T, s *SBOM) {
	t.Helper()
	if s.Distro == nil || s.Distro.ID != "debian" {
		t.Errorf("distro %+v", s.Distro)
	}
	requirePackage(t, s, "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc%402.36-9")
	for _, want := range []struct{ purl, location string }{
		{"pkg:npm/kept@1.0.0", "/srv/node_modules/kept/package.json"},
		{"pkg:npm/new@2.0.0", "/srv/opq/node_modules/new/package.json"},
		{"pkg:npm/abs@1.0.0", "/abs/node_modules/abs/package.json"},
		{"pkg:npm/dot@1.0.0", "/srv/dotslash/node_modules/dot/package.json"},
		{"pkg:npm/through@1.0.0", "/srv/target/node_modules/through/package.json"},
	} {
		if p := requirePackage(t, s, want.purl); !slices.Equal(p.Locations, []string{want.location}) {
			t.Errorf("%s locations %q, want [%s]", want.purl, p.Locations, want.location)
		}
	}
	for _, gone := range []string{"gone", "old", "old2"} {
		if got := findByName(s, "npm", gone); len(got) != 0 {
			t.Errorf("%s is whited out, yet listed: %+v", gone, got)
		}
	}
	if want := 3 + 5; len(s.Packages) != want {
		t.Errorf("%d packages, want %d: %q", len(s.Packages), want, purls(s))
	}
}

// TestCatalogImage catalogs the hostile image: whiteouts, links and
// escaping names are applied inside the unpack folder, never on the host.
func TestCatalogImage(t *testing.T) {
	isolateTemp(t)
	marker := "secure-build-test-" + filepath.Base(t.TempDir())
	s, err := CatalogImage(context.Background(), hostileImage(t, marker), "oci-layout:layout:v1")
	if err != nil {
		t.Fatal(err)
	}
	checkHostileImageCatalog(t, s)
	if s.Source != "oci-layout:layout:v1" {
		t.Errorf("source %q, want the name given", s.Source)
	}
	if _, err := os.Lstat("/etc/" + marker); err == nil {
		t.Errorf("/etc/%s written on the host", marker)
	}
}

// TestCatalogImageDockerArchive: the layers of a docker archive, stored
// uncompressed, unpack as those of a registry or a layout.
func TestCatalogImageDockerArchive(t *testing.T) {
	isolateTemp(t)
	marker := "secure-build-test-" + filepath.Base(t.TempDir())
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, name.MustParseReference("example.com/app:v1"), hostileImage(t, marker)); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := CatalogImage(context.Background(), img, "docker-archive:"+archive)
	if err != nil {
		t.Fatal(err)
	}
	checkHostileImageCatalog(t, s)
}

// TestCatalogImageEscapingEntry: a layer entry named "../../escape" lands
// inside the root, as containerd puts it ("/escape"); nothing is written
// outside the unpack folder, which is removed.
func TestCatalogImageEscapingEntry(t *testing.T) {
	tmp := isolateTemp(t)
	img := image(t,
		layer(t, file("etc/os-release", debianOSRelease)),
		layer(t, file("srv/ok", "ok"), file("../../escape/node_modules/esc/package.json", npmPackage("esc", "1.0.0")),
			file("../../../../../../../../tmp/escape", "escaped")),
	)
	s, err := CatalogImage(context.Background(), img, "test-image")
	if err != nil {
		t.Fatal(err)
	}
	if p := requirePackage(t, s, "pkg:npm/esc@1.0.0"); !slices.Equal(p.Locations, []string{"/escape/node_modules/esc/package.json"}) {
		t.Errorf("esc at %q, want it at /escape/node_modules/esc/package.json", p.Locations)
	}
	// Had the entry been written outside, it would be beside or above tmp.
	filepath.Walk(filepath.Dir(filepath.Dir(filepath.Dir(tmp))), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == "escape" {
			t.Errorf("escaping entry written at %s", p)
		}
		return nil
	})
}
