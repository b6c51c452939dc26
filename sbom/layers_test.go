package sbom

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/secure-build/secure-build/internal/imagetest"
	"github.com/secure-build/secure-build/internal/rpmdbtest"
)

// rawLayer is a layer of the given bytes, gzip or not, read as they are:
// tarball.LayerFromOpener would read them whole first to compute the
// layer's diff ID (failing on a broken one, inflating a bomb).
type rawLayer []byte

func (r rawLayer) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(r))
	return h, err
}
func (r rawLayer) DiffID() (v1.Hash, error)            { return r.Digest() }
func (r rawLayer) Compressed() (io.ReadCloser, error)  { return io.NopCloser(bytes.NewReader(r)), nil }
func (r rawLayer) Size() (int64, error)                { return int64(len(r)), nil }
func (r rawLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (r rawLayer) Uncompressed() (io.ReadCloser, error) {
	if !bytes.HasPrefix(r, []byte{0x1f, 0x8b}) {
		return r.Compressed()
	}
	return gzip.NewReader(bytes.NewReader(r))
}

// catalogImage catalogs an image made of layers.
func catalogImage(t *testing.T, layers ...v1.Layer) *SBOM {
	t.Helper()
	isolateTemp(t)
	s, err := CatalogImage(context.Background(), image(t, layers...), "test-image")
	if err != nil {
		t.Fatalf("CatalogImage: %v", err)
	}
	return s
}

// debs lists the names of the deb packages of s, sorted.
func debs(s *SBOM) []string {
	var out []string
	for _, p := range s.Packages {
		if p.Type == "deb" {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}

var statusPackages = []string{"base-files", "libc6", "libssl3"}

// npms lists the npm packages of s as name@location, sorted.
func npms(s *SBOM) []string {
	var out []string
	for _, p := range s.Packages {
		if p.Type == "npm" {
			for _, l := range p.Locations {
				out = append(out, p.Name+"@"+l)
			}
		}
	}
	slices.Sort(out)
	return out
}

func npmFile(dir, name string) tarEntry {
	return file(dir+"/node_modules/"+name+"/package.json", npmPackage(name, "1.0.0"))
}

// TestImageHardLinkedStatus is the case: var/lib/dpkg/status a hard
// link to another entry was dropped, and the image cataloged as 0 packages.
func TestImageHardLinkedStatus(t *testing.T) {
	const dpkgDir = "var/lib/dpkg/"
	for _, tc := range []struct {
		name   string
		layers [][]tarEntry
		want   []string
	}{
		{"same layer", [][]tarEntry{{
			file(dpkgDir+"aaa-backup", dpkgStatus), hardlink(dpkgDir+"status", dpkgDir+"aaa-backup"),
		}}, statusPackages},
		{"target in a lower layer", [][]tarEntry{
			{file(dpkgDir+"aaa-backup", dpkgStatus)},
			{hardlink(dpkgDir+"status", "/"+dpkgDir+"aaa-backup")},
		}, statusPackages},
		{"link to a link", [][]tarEntry{{
			file("backup/aaa", dpkgStatus), hardlink("backup/bbb", "backup/aaa"), hardlink(dpkgDir+"status", "backup/bbb"),
		}}, statusPackages},
		{"target replaced later", [][]tarEntry{
			{file(dpkgDir+"aaa-backup", dpkgStatus), hardlink(dpkgDir+"status", dpkgDir+"aaa-backup")},
			{file(dpkgDir+"aaa-backup", "junk\n")},
		}, statusPackages},
		{"target whited out later", [][]tarEntry{
			{file(dpkgDir+"aaa-backup", dpkgStatus), hardlink(dpkgDir+"status", dpkgDir+"aaa-backup")},
			{file(dpkgDir+".wh.aaa-backup", "")},
		}, statusPackages},
		{"link whited out later", [][]tarEntry{
			{file(dpkgDir+"aaa-backup", dpkgStatus), hardlink(dpkgDir+"status", dpkgDir+"aaa-backup")},
			{file(dpkgDir+".wh.status", "")},
		}, nil},
		{"target through a symlink of the layer", [][]tarEntry{{
			file("data/aaa", dpkgStatus), link("d", "data"), hardlink(dpkgDir+"status", "d/aaa"),
		}}, statusPackages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, entries := range tc.layers {
				layers = append(layers, layer(t, entries...))
			}
			s := catalogImage(t, layers...)
			if got := debs(s); !slices.Equal(got, tc.want) {
				t.Errorf("deb packages %q, want %q; incomplete %q", got, tc.want, s.Incomplete)
			}
			if len(s.Incomplete) != 0 {
				t.Errorf("incomplete: %q", s.Incomplete)
			}
		})
	}
}

// TestImageUnappliableLayer: what containerd's applier refuses is an error
// naming the layer and the entry, not a silently thinner image.
func TestImageUnappliableLayer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers [][]tarEntry
		want   string
	}{
		{"hard link to nothing", [][]tarEntry{{hardlink("var/lib/dpkg/status", "nowhere")}}, `layer 0 (sha256:`},
		{"hard link to a whited-out file", [][]tarEntry{
			{file("a", dpkgStatus)}, {file(".wh.a", ""), hardlink("var/lib/dpkg/status", "a")},
		}, `layer 1 (sha256:`},
		{"hard link to a folder", [][]tarEntry{{dir("d"), hardlink("var/lib/dpkg/status", "d")}}, "a directory"},
		{"a name under a file of the same layer", [][]tarEntry{{file("f", "x"), file("f/node_modules/a/package.json", "{}")}}, "f is not a directory"},
		{"a whiteout of the folder itself", [][]tarEntry{{file("a/.wh..", "")}}, "invalid whiteout name"},
		// On overlay the whiteout is a device in the layer's folder.
		{"a name under a whiteout of the same layer", [][]tarEntry{
			{npmFile("srv", "a")}, {file("srv/.wh.node_modules", ""), npmFile("srv", "b")},
		}, "srv/node_modules is not a directory"},
		{"symlink loop", [][]tarEntry{{link("a", "b"), link("b", "a"), file("a/x", "")}}, "more than 255 symlinks"},
		{"a part of a name over NAME_MAX", [][]tarEntry{{npmFile("srv/"+strings.Repeat("n", 256), "a")}}, "longer than 255 bytes"},
		{"a name over PATH_MAX", [][]tarEntry{{npmFile(strings.Repeat("d/", 2100), "a")}}, "longer than 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, entries := range tc.layers {
				layers = append(layers, layer(t, entries...))
			}
			isolateTemp(t)
			_, err := CatalogImage(context.Background(), image(t, layers...), "test-image")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestImageWhiteouts: a whiteout removes a package database, or its folder;
// a name whited out and written again in one layer is there.
func TestImageWhiteouts(t *testing.T) {
	base := []tarEntry{file("etc/os-release", debianOSRelease), file("var/lib/dpkg/status", dpkgStatus)}
	for _, tc := range []struct {
		name string
		top  []tarEntry
		want []string
	}{
		{"the file", []tarEntry{file("var/lib/dpkg/.wh.status", "")}, nil},
		{"its folder", []tarEntry{file("var/lib/.wh.dpkg", "")}, nil},
		{"whited out and written again", []tarEntry{
			file("var/lib/dpkg/.wh.status", ""), file("var/lib/dpkg/status", dpkgStatus),
		}, statusPackages},
		{"another file", []tarEntry{file("var/lib/dpkg/.wh.other", "")}, statusPackages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := catalogImage(t, layer(t, base...), layer(t, tc.top...))
			if got := debs(s); !slices.Equal(got, tc.want) {
				t.Errorf("deb packages %q, want %q", got, tc.want)
			}
		})
	}
}

// TestImageOpaqueFolder: an opaque marker hides everything lower layers put
// in its folder, at any depth, and keeps what its own layer puts there,
// before or after the marker.
func TestImageOpaqueFolder(t *testing.T) {
	const nm = "usr/lib"
	base := layer(t, npmFile(nm, "a"), npmFile(nm, "b"), npmFile(nm+"/node_modules/c", "d"), npmFile("srv", "kept"))
	top := layer(t,
		npmFile(nm, "before"),
		npmFile(nm+"/node_modules/c", "e"),
		file(nm+"/node_modules/.wh..wh..opq", ""),
		npmFile(nm, "after"),
	)
	s := catalogImage(t, base, top)
	want := []string{
		"after@/usr/lib/node_modules/after/package.json",
		"before@/usr/lib/node_modules/before/package.json",
		"e@/usr/lib/node_modules/c/node_modules/e/package.json",
		"kept@/srv/node_modules/kept/package.json",
	}
	if got := npms(s); !slices.Equal(got, want) {
		t.Errorf("npm packages %q, want %q", got, want)
	}
}

// TestImageDuplicateEntries: in one layer, the last entry of a name wins,
// whatever the types.
func TestImageDuplicateEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		want    []string
	}{
		{"junk then status", []tarEntry{file("var/lib/dpkg/status", "junk\n"), file("var/lib/dpkg/status", dpkgStatus)}, statusPackages},
		{"status then empty", []tarEntry{file("var/lib/dpkg/status", dpkgStatus), file("var/lib/dpkg/status", "")}, nil},
		{"status then symlink to an empty file", []tarEntry{
			file("var/lib/dpkg/status", dpkgStatus), file("empty", ""), link("var/lib/dpkg/status", "/empty"),
		}, nil},
		{"folder then status", []tarEntry{
			dir("var/lib/dpkg/status"), file("var/lib/dpkg/status/x", "x"), file("var/lib/dpkg/status", dpkgStatus),
		}, statusPackages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := catalogImage(t, layer(t, tc.entries...))
			if got := debs(s); !slices.Equal(got, tc.want) {
				t.Errorf("deb packages %q, want %q", got, tc.want)
			}
		})
	}
}

// TestImageReplacedAcrossLayers: a file replaces a folder of a lower layer
// and its content; a folder replaces a file and holds only its own layer's.
func TestImageReplacedAcrossLayers(t *testing.T) {
	s := catalogImage(t,
		layer(t, npmFile("srv", "a"), npmFile("opt", "x")),
		layer(t, file("srv/node_modules", "now a file"), file("opt/node_modules/x", "now a file")),
		layer(t, dir("srv/node_modules"), npmFile("srv", "b")),
	)
	if got, want := npms(s), []string{"b@/srv/node_modules/b/package.json"}; !slices.Equal(got, want) {
		t.Errorf("npm packages %q, want %q", got, want)
	}
}

// TestImageSymlinksInNames: a symlink of the same layer is followed in a
// name (inside the root); a lower layer's symlink is not, and a folder of
// the upper layer hides it, as on overlay.
func TestImageSymlinksInNames(t *testing.T) {
	s := catalogImage(t,
		layer(t, link("lib", "usr/lib"), npmFile("usr/lib", "a")),
		layer(t,
			npmFile("lib", "b"),
			link("share", "../../usr/share"), npmFile("share", "c"),
			link("up", "/.."), npmFile("up/srv", "d"),
		),
	)
	want := []string{
		"a@/usr/lib/node_modules/a/package.json",
		"b@/lib/node_modules/b/package.json",
		"c@/usr/share/node_modules/c/package.json",
		"d@/srv/node_modules/d/package.json",
	}
	if got := npms(s); !slices.Equal(got, want) {
		t.Errorf("npm packages %q, want %q", got, want)
	}
}

// TestImageNamesConfined: names with "..", absolute names, symlinks and
// hard links that point out of the root never write outside the unpack
// folder; each lands where containerd puts it.
func TestImageNamesConfined(t *testing.T) {
	parent := t.TempDir()
	unpack := filepath.Join(parent, "a", "b", "unpack")
	if err := os.MkdirAll(unpack, 0o700); err != nil {
		t.Fatal(err)
	}
	img := image(t, layer(t,
		file("../../escape", "x"),
		file("/../../../abs-escape", "x"),
		link("up", "../../.."),
		file("up/through-up", "x"),
		dir("etc"),
		link("etc-link", "/../../etc"),
		file("etc-link/passwd", "image\n"),
		hardlink("hl", "../../../etc/passwd"),
		link("hosts", "/etc/hosts"),
		tarEntry{name: "../dev", typ: tar.TypeBlock},
	))
	if _, err := unpackImage(context.Background(), img, unpack, writeAll, maxUnpackBytes); err != nil {
		t.Fatal(err)
	}
	var outside []string
	filepath.Walk(parent, func(p string, info os.FileInfo, err error) error {
		if err == nil && !strings.HasPrefix(p, unpack) && !strings.HasPrefix(unpack, p) {
			outside = append(outside, p)
		}
		return nil
	})
	if len(outside) > 0 {
		t.Errorf("written outside the unpack folder: %q", outside)
	}
	root := filepath.Join(unpack, "root")
	for _, p := range []string{"escape", "abs-escape", "through-up", "etc/passwd", "hl", "hosts"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s not inside the root: %v", p, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "hl")); err != nil || string(b) != "image\n" {
		t.Errorf("hard link reads %q, %v; want the image's etc/passwd", b, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "dev")); err == nil {
		t.Error("a block device entry was made")
	}
}

// gzipBomb is a gzip stream of a tar holding name, declared size bytes of
// zeros, made of one gzip member per MiB: 2 GiB of zeros take 2 MB.
func gzipBomb(t *testing.T, name string, size int64) []byte {
	t.Helper()
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	tw.Flush() // the header alone: the data follows as gzip members
	var out bytes.Buffer
	out.Write(member(hdr.Bytes()))
	const chunk = 1 << 20
	zeros := member(make([]byte, chunk))
	for n := int64(0); n+chunk <= size; n += chunk {
		out.Write(zeros)
	}
	// The rest, the padding to a block and the two zero blocks of the end.
	rest := size % chunk
	pad := (512 - size%512) % 512
	out.Write(member(make([]byte, rest+pad+1024)))
	return out.Bytes()
}

// peakDiskUse runs fn and returns the most bytes the files under dir held
// while it ran, looked at every 5 ms.
func peakDiskUse(t *testing.T, dir string, fn func()) int64 {
	t.Helper()
	done := make(chan struct{})
	peak := make(chan int64)
	go func() {
		var most int64
		for {
			var n int64
			filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
				if err == nil && info.Mode().IsRegular() {
					n += info.Size()
				}
				return nil
			})
			most = max(most, n)
			select {
			case <-done:
				peak <- most
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	return <-peak
}

// TestImageBombBounded: a 2 MB layer whose dpkg status inflates to 2 GiB
// is written up to the catalog's bound and no further, and the status is
// named as cut short; the rest of the image is cataloged.
func TestImageBombBounded(t *testing.T) {
	bomb := gzipBomb(t, "var/lib/dpkg/status", 2<<30)
	if len(bomb) > 3<<20 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	tmp := isolateTemp(t)
	var s *SBOM
	peak := peakDiskUse(t, tmp, func() {
		var err error
		if s, err = CatalogImage(context.Background(), image(t, layer(t, npmFile("srv", "a")), rawLayer(bomb)), "test-image"); err != nil {
			t.Fatalf("CatalogImage: %v", err)
		}
	})
	if peak > maxMetadataFileSize+1<<20 {
		t.Errorf("the unpack held %d bytes on disk, more than the bound of %d", peak, maxMetadataFileSize)
	}
	if got := requireIncomplete(t, s, "/var/lib/dpkg/status"); !strings.Contains(got, "larger than 67108864 bytes") {
		t.Errorf("incompleteness %q, want it to name the bound", got)
	}
	if got, want := npms(s), []string{"a@/srv/node_modules/a/package.json"}; !slices.Equal(got, want) {
		t.Errorf("npm packages %q, want %q", got, want)
	}
}

// TestImageUnpackBudget: once an unpack's budget is spent, a wanted file is
// not written and is named as cut short; a hard-linked name shares its
// file's data and costs nothing more.
func TestImageUnpackBudget(t *testing.T) {
	big := strings.Repeat("x", 3<<20)
	img := image(t, layer(t, file("one", big), hardlink("one-again", "one"), file("two", big), file("three", "small")))
	root, gaps := unpackForTest(t, img, writeAll, 5<<20)
	want := []Incompleteness{{Path: "/two", Reason: "the image unpack's budget of 5242880 bytes is spent: not unpacked"}}
	if !slices.Equal(gaps, want) {
		t.Errorf("gaps %q, want %q", gaps, want)
	}
	for _, p := range []string{"one", "one-again", "three"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "two")); err == nil {
		t.Error("two was written, cut short")
	}
}

// TestImageUnreadableLayer: a layer that cannot be read to its end (a
// corrupt gzip stream, a tar cut short) is an error naming the layer.
func TestImageUnreadableLayer(t *testing.T) {
	good := tarBytes(t, file("var/lib/dpkg/status", dpkgStatus), file("srv/x", strings.Repeat("y", 4096)))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	corrupt := bytes.Clone(gz.Bytes())
	corrupt[len(corrupt)/2] ^= 0xff
	for name, b := range map[string][]byte{
		"corrupt gzip":   corrupt,
		"truncated gzip": gz.Bytes()[:gz.Len()-20],
		"truncated tar":  good[:len(good)-2048],
	} {
		t.Run(name, func(t *testing.T) {
			isolateTemp(t)
			_, err := CatalogImage(context.Background(), image(t, layer(t, npmFile("srv", "a")), rawLayer(b)), "test-image")
			if err == nil || !strings.Contains(err.Error(), "layer 1") {
				t.Errorf("got %v, want an error naming layer 1", err)
			}
		})
	}
}

// FuzzUnpackLayer applies a layer tar (gzip or not) over a base layer with
// a status, a symlink, a folder and a file. Whatever it holds, the unpack
// neither panics nor writes outside its folder nor makes a device, and it
// either fails or leaves a root. Seeds are in testdata/fuzz.
func FuzzUnpackLayer(f *testing.F) {
	base := tarBytes(f,
		file("etc/os-release", debianOSRelease), file("var/lib/dpkg/status", dpkgStatus),
		link("lib", "usr/lib"), npmFile("usr/lib", "a"), file("opt/file", "x"),
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		unpack := filepath.Join(parent, "unpack")
		if err := os.Mkdir(unpack, 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := unpackImage(context.Background(), image(t, rawLayer(base), rawLayer(data)), unpack, writeAll, 1<<20)
		filepath.Walk(parent, func(p string, info os.FileInfo, werr error) error {
			switch {
			case werr != nil:
			case p != parent && !strings.HasPrefix(p, unpack):
				t.Errorf("%s written outside the unpack folder", p)
			case info.Mode()&(os.ModeDevice|os.ModeNamedPipe|os.ModeCharDevice) != 0:
				t.Errorf("%s is a device or a fifo", p)
			}
			return nil
		})
		if _, serr := os.Stat(filepath.Join(unpack, "root")); err == nil && serr != nil {
			t.Errorf("the unpack succeeded and left no root: %v", serr)
		}
	})
}

// TestImageSymlinkWalkBounded: symlinks in names are followed at a bounded
// cost; a layer whose entries each follow 250 links deep in the tree stops
// with an error instead of running for minutes.
func TestImageSymlinkWalkBounded(t *testing.T) {
	deep := strings.TrimSuffix(strings.Repeat("a/", 1000), "/")
	entries := []tarEntry{dir(deep)}
	for i := range 250 {
		entries = append(entries, link(fmt.Sprintf("%s/l%d", deep, i), fmt.Sprintf("l%d", i+1)))
	}
	entries = append(entries, dir(deep+"/l250"))
	for i := range 400 {
		entries = append(entries, file(fmt.Sprintf("%s/l0/x%d", deep, i), ""))
	}
	isolateTemp(t)
	start := time.Now()
	_, err := CatalogImage(context.Background(), image(t, layer(t, entries...)), "test-image")
	if err == nil || !strings.Contains(err.Error(), "steps") {
		t.Errorf("got %v, want the symlink walk's bound", err)
	}
	t.Logf("stopped after %v", time.Since(start))
}

// TestUnpackTrickyImage: every file and symlink of the tricky image, as we
// unpack it, is what a real BuildKit makes of it (tree.txt, which
// test/image_unpack_test.go checks against BuildKit).
func TestUnpackTrickyImage(t *testing.T) {
	layers, err := imagetest.ReadLayers("testdata/tricky-image/layers.txt")
	if err != nil {
		t.Fatal(err)
	}
	root, gaps := unpackForTest(t, image(t, layers...), writeAll, maxUnpackBytes)
	if len(gaps) != 0 {
		t.Errorf("gaps %q", gaps)
	}
	b, err := os.ReadFile("testdata/tricky-image/tree.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	got, err := imagetest.TreeListing(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the unpacked tree differs from BuildKit's\nonly in BuildKit's:\n  %s\nonly in ours:\n  %s\nours:\n%s",
			strings.Join(slices.DeleteFunc(slices.Clone(want), func(l string) bool { return slices.Contains(got, l) }), "\n  "),
			strings.Join(slices.DeleteFunc(slices.Clone(got), func(l string) bool { return slices.Contains(want, l) }), "\n  "),
			strings.Join(got, "\n"))
	}
}

// TestImageDatabasesBehindSymlinks: a package database the container
// reaches through a symlink is unpacked and read there, as in a directory
// root; the walk of the tar sees it only under a name no extractor knows.
func TestImageDatabasesBehindSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers [][]tarEntry
	}{
		{"folder linked absolute", [][]tarEntry{{file("data/dpkg/status", dpkgStatus), link("var/lib/dpkg", "/data/dpkg")}}},
		{"link in a later layer", [][]tarEntry{{file("data/dpkg/status", dpkgStatus)}, {link("var/lib/dpkg", "../../data/dpkg")}}},
		{"file linked, climbing above the root", [][]tarEntry{{file("data/status", dpkgStatus), link("var/lib/dpkg/status", "../../../../../../data/status")}}},
		{"status.d linked", [][]tarEntry{{
			file("pkgs/libc6", "Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n"),
			file("pkgs/libssl3", "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n"),
			file("pkgs/base-files", "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n"),
			link("var/lib/dpkg/status.d", "/pkgs"),
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, entries := range tc.layers {
				layers = append(layers, layer(t, entries...))
			}
			s := catalogImage(t, layers...)
			if got := debs(s); !slices.Equal(got, statusPackages) {
				t.Errorf("deb packages %q, want %q; incomplete %q", got, statusPackages, s.Incomplete)
			}
		})
	}
	t.Run("rpm under usr/share/rpm", func(t *testing.T) {
		dir := t.TempDir()
		if err := rpmdbtest.WriteWAL(dir, rpmdbtest.Package{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"}); err != nil {
			t.Fatal(err)
		}
		var entries []tarEntry
		for _, name := range []string{"rpmdb.sqlite", "rpmdb.sqlite-wal"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, file("usr/share/rpm/"+name, string(b)))
		}
		s := catalogImage(t, layer(t, entries...))
		if len(s.Packages) != 1 || s.Packages[0].Name != "zlib" || len(s.Incomplete) != 0 {
			t.Errorf("packages %q, incomplete %q; want zlib from the write-ahead log", purls(s), s.Incomplete)
		}
	})
}
