package sbom

import (
	"archive/tar"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
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

// writeLayout writes imgs into a new OCI layout, each with its ref name
// annotation when it has one.
func writeLayout(t *testing.T, imgs map[string]v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(imgs))
	for n := range imgs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var opts []layout.Option
		if !strings.HasPrefix(n, "untagged") {
			opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": n}))
		}
		if err := p.AppendImage(imgs[n], opts...); err != nil {
			t.Fatal(err)
		}
	}
	return dir
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

func TestCatalogTargetOCILayout(t *testing.T) {
	isolateTemp(t)
	marker := "secure-build-test-" + filepath.Base(t.TempDir())
	hostile := hostileImage(t, marker)
	other := image(t, layer(t, file("srv/node_modules/other/package.json", npmPackage("other", "1.0.0"))))
	dir := writeLayout(t, map[string]v1.Image{"v1": hostile, "example.com/app:v2": other})
	ctx := context.Background()

	s, err := CatalogTarget(ctx, OCILayoutPrefix+dir+":v1")
	if err != nil {
		t.Fatalf("by tag: %v", err)
	}
	checkHostileImageCatalog(t, s)
	if s.Source != OCILayoutPrefix+dir+":v1" {
		t.Errorf("source %q", s.Source)
	}
	if _, err := os.Lstat("/etc/" + marker); err == nil {
		t.Errorf("/etc/%s written on the host", marker)
	}

	// A full reference name matches by its tag.
	s, err = CatalogTarget(ctx, OCILayoutPrefix+dir+":v2")
	if err != nil {
		t.Fatalf("by the tag of a full name: %v", err)
	}
	if got := purls(s); !slices.Equal(got, []string{"pkg:npm/other@1.0.0"}) {
		t.Errorf("v2: %q", got)
	}

	digest, err := hostile.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s, err = CatalogTarget(ctx, OCILayoutPrefix+dir+"@"+digest.String())
	if err != nil {
		t.Fatalf("by digest: %v", err)
	}
	checkHostileImageCatalog(t, s)

	for target, want := range map[string]string{
		OCILayoutPrefix + dir:                                        "holds 2 images: name one with :TAG or @DIGEST",
		OCILayoutPrefix + dir + ":v3":                                `no image tagged "v3"`,
		OCILayoutPrefix + dir + "@sha256:" + strings.Repeat("0", 64): "has no manifest sha256:000",
		OCILayoutPrefix + filepath.Join(t.TempDir(), "none"):         "open OCI layout",
	} {
		if _, err := CatalogTarget(ctx, target); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CatalogTarget(%s): %v, want an error containing %q", target, err, want)
		}
	}

	// One untagged image needs no tag.
	single := writeLayout(t, map[string]v1.Image{"untagged": other})
	if s, err := CatalogTarget(ctx, OCILayoutPrefix+single); err != nil || len(s.Packages) != 1 {
		t.Errorf("a layout of one image: %v, %v", s, err)
	}
	// Two untagged images are ambiguous.
	two := writeLayout(t, map[string]v1.Image{"untagged1": other, "untagged2": hostile})
	if _, err := CatalogTarget(ctx, OCILayoutPrefix+two); err == nil || !strings.Contains(err.Error(), "name one with :TAG or @DIGEST") {
		t.Errorf("two untagged images: %v", err)
	}
}

// TestCatalogTargetOCIIndex: a tag naming a multi-platform index takes the
// image for this machine's architecture, skipping attestation manifests.
func TestCatalogTargetOCIIndex(t *testing.T) {
	isolateTemp(t)
	here := image(t, layer(t, file("srv/node_modules/here/package.json", npmPackage("here", "1.0.0"))))
	elsewhere := image(t, layer(t, file("srv/node_modules/elsewhere/package.json", npmPackage("elsewhere", "1.0.0"))))
	attestation := image(t, layer(t, file("srv/node_modules/attestation/package.json", npmPackage("attestation", "1.0.0"))))
	otherArch := "s390x"
	if runtime.GOARCH == otherArch {
		otherArch = "amd64"
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: attestation, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
		mutate.IndexAddendum{Add: elsewhere, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: here, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	s, err := CatalogTarget(context.Background(), OCILayoutPrefix+dir+":multi")
	if err != nil {
		t.Fatal(err)
	}
	if got := purls(s); !slices.Equal(got, []string{"pkg:npm/here@1.0.0"}) {
		t.Errorf("got %q, want the linux/%s image's package", got, runtime.GOARCH)
	}

	// An index with no image for this machine names what it has.
	idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: elsewhere, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}})
	dir = filepath.Join(t.TempDir(), "layout")
	if p, err = layout.Write(dir, empty.Index); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	if _, err := CatalogTarget(context.Background(), OCILayoutPrefix+dir); err == nil || !strings.Contains(err.Error(), "linux/"+otherArch) {
		t.Errorf("index without this platform: %v", err)
	}
}

func TestCatalogTargetDockerArchive(t *testing.T) {
	isolateTemp(t)
	marker := "secure-build-test-" + filepath.Base(t.TempDir())
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, name.MustParseReference("example.com/app:v1"), hostileImage(t, marker)); err != nil {
		t.Fatal(err)
	}
	s, err := CatalogTarget(context.Background(), DockerArchivePrefix+archive)
	if err != nil {
		t.Fatal(err)
	}
	checkHostileImageCatalog(t, s)
	if _, err := CatalogTarget(context.Background(), DockerArchivePrefix+filepath.Join(t.TempDir(), "missing.tar")); err == nil || !strings.Contains(err.Error(), "open docker archive") {
		t.Errorf("missing archive: %v", err)
	}
}

// TestCatalogTargetEscapingEntry: a layer entry named "../../escape" lands
// inside the root, as containerd puts it ("/escape"); nothing is written
// outside the unpack folder, which is removed.
func TestCatalogTargetEscapingEntry(t *testing.T) {
	tmp := isolateTemp(t)
	img := image(t,
		layer(t, file("etc/os-release", debianOSRelease)),
		layer(t, file("srv/ok", "ok"), file("../../escape/node_modules/esc/package.json", npmPackage("esc", "1.0.0")),
			file("../../../../../../../../tmp/escape", "escaped")),
	)
	dir := writeLayout(t, map[string]v1.Image{"v1": img})
	s, err := CatalogTarget(context.Background(), OCILayoutPrefix+dir+":v1")
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

// TestCatalogTargetDirectory: a plain path is a root filesystem.
func TestCatalogTargetDirectory(t *testing.T) {
	root := debianRoot(t)
	s, err := CatalogTarget(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != root || len(s.Packages) != 3 {
		t.Errorf("source %q, %d packages", s.Source, len(s.Packages))
	}
}
