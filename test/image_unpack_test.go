package test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/secure-build/secure-build/sbom"
)

// TestImageUnpackMatchesBuildKit makes an image whose layers hold the
// entries layer appliers disagree on — a dpkg status hard-linked to another
// entry, whiteouts, an opaque folder with entries before and after its
// marker, duplicate entries, folders and files replacing each other across
// layers, symlinks in names (of the same layer and of a lower one), names
// with ".." or absolute — and checks that cataloging it as an OCI layout
// finds exactly what cataloging the root filesystem a real BuildKit
// unpacks from it (FROM the image, exported with type=local) finds: every
// package, at every location, the dpkg status's packages included.
func TestImageUnpackMatchesBuildKit(t *testing.T) {
	bk := startBuildKit(t)
	base := trickyImageLayout(t, filepath.Join(bk.dir, "tricky"))

	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM base\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rootfs")
	args := []string{
		"--frontend", "dockerfile.v0",
		"--local", "context=" + ctxDir, "--local", "dockerfile=" + ctxDir,
		"--output", "type=local,dest=" + out,
	}
	bk.build(t, append(args, base.contextArgs("base")...)...)

	// The case of the issue, as BuildKit sees it: the status is there.
	if b, err := os.ReadFile(filepath.Join(out, "var/lib/dpkg/status")); err != nil || string(b) != trickyStatus {
		t.Fatalf("BuildKit's /var/lib/dpkg/status: %q, %v", b, err)
	}

	ctx := context.Background()
	want, err := sbom.CatalogTarget(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sbom.CatalogTarget(ctx, sbom.OCILayoutPrefix+base.dir+"@"+base.digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Incomplete) != 0 || len(got.Incomplete) != 0 {
		t.Errorf("incomplete: BuildKit's root %q, the image %q", want.Incomplete, got.Incomplete)
	}
	wantLines, gotLines := packageLines(want), packageLines(got)
	if !slices.Equal(gotLines, wantLines) {
		t.Errorf("the image's catalog differs from the catalog of BuildKit's unpack\nonly in BuildKit's:\n  %s\nonly in ours:\n  %s",
			strings.Join(minus(wantLines, gotLines), "\n  "), strings.Join(minus(gotLines, wantLines), "\n  "))
	}
	// Guard against two empty catalogs agreeing: every case is there.
	for _, line := range []string{
		"deb libc6 /var/lib/dpkg/status",
		"npm dup@2.0.0 /srv/dup/node_modules/dup/package.json",
		"npm re@3.0.0 /srv/node_modules/re/package.json",
		"npm new-before@1.0.0 /usr/lib/node_modules/new-before/package.json",
		"npm new-after@1.0.0 /usr/lib/node_modules/new-after/package.json",
		"npm b@1.0.0 /lib/node_modules/b/package.json",
		"npm y@1.0.0 /opt/file/node_modules/y/package.json",
		"npm c@1.0.0 /usr/share/node_modules/c/package.json",
		"npm d@1.0.0 /srv/node_modules/d/package.json",
		"npm esc@1.0.0 /escape/node_modules/esc/package.json",
		"npm abs@1.0.0 /abs/node_modules/abs/package.json",
		"npm hl@1.0.0 /srv/hl/node_modules/hl/package.json",
	} {
		if !slices.Contains(wantLines, line) {
			t.Errorf("BuildKit's root lacks %q", line)
		}
	}
	for _, gone := range []string{"gone", "old", "x", "z", "deep"} {
		for _, line := range wantLines {
			if strings.HasPrefix(line, "npm "+gone+"@") {
				t.Errorf("BuildKit's root has %q", line)
			}
		}
	}
}

// packageLines lists a catalog's packages as "type name@version location"
// (deb packages by name and location), one a location, sorted.
func packageLines(s *sbom.SBOM) []string {
	var out []string
	for _, p := range s.Packages {
		for _, l := range p.Locations {
			if p.Type == "deb" {
				out = append(out, "deb "+p.Name+" "+l)
				continue
			}
			out = append(out, p.Type+" "+p.Name+"@"+p.Version+" "+l)
		}
	}
	slices.Sort(out)
	return out
}

// trickyStatus is the dpkg status of the tricky image: two packages.
const trickyStatus = `Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc (2.36-9)
Version: 2.36-9

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
`

type entry struct {
	name, body, link string
	typ              byte
}

func reg(name, body string) entry { return entry{name: name, body: body, typ: tar.TypeReg} }
func npm(dir, name, version string) entry {
	return reg(dir+"/node_modules/"+name+"/package.json", `{"name": "`+name+`", "version": "`+version+`"}`)
}
func folder(name string) entry           { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) entry  { return entry{name: name, link: target, typ: tar.TypeSymlink} }
func hardlink(name, target string) entry { return entry{name: name, link: target, typ: tar.TypeLink} }
func whiteout(dir, name string) entry    { return reg(dir+"/.wh."+name, "") }
func opaqueMarker(dir string) entry      { return reg(dir+"/.wh..wh..opq", "") }
func layerOf(t *testing.T, es ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		mode := int64(0o644)
		if e.typ == tar.TypeDir {
			mode = 0o755
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: mode, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// trickyImageLayout writes the tricky image as an OCI layout in dir.
func trickyImageLayout(t *testing.T, dir string) ociBase {
	t.Helper()
	const osRelease = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"
	bottom := layerOf(t,
		reg("etc/os-release", osRelease),
		// The case: the status a hard link to an entry before it.
		reg("var/lib/dpkg/aaa-backup", trickyStatus),
		hardlink("var/lib/dpkg/status", "var/lib/dpkg/aaa-backup"),
		npm("srv", "gone", "1.0.0"),
		npm("srv", "re", "1.0.0"),
		npm("usr/lib", "old", "1.0.0"),
		npm("usr/lib/node_modules/old", "deep", "1.0.0"),
		symlink("lib", "usr/lib"),
		npm("opt/app", "x", "1.0.0"),
		reg("opt/file", "a file"),
		// Duplicates: the last entry wins.
		npm("srv/dup", "dup", "1.0.0"),
		npm("srv/dup", "dup", "2.0.0"),
		folder("srv/fd"),
		npm("srv/fd", "z", "1.0.0"),
		reg("srv/fd", "now a file"),
		// Names out of the root stay in it.
		npm("../../escape", "esc", "1.0.0"),
		npm("/abs", "abs", "1.0.0"),
		// A symlink of the same layer in a name is followed.
		symlink("share", "usr/share"),
		npm("share", "c", "1.0.0"),
		symlink("up", "/.."),
		npm("up/srv", "d", "1.0.0"),
		// A package.json that is a hard link.
		reg("srv/hl-src", `{"name": "hl", "version": "1.0.0"}`),
		hardlink("srv/hl/node_modules/hl/package.json", "srv/hl-src"),
	)
	top := layerOf(t,
		whiteout("srv/node_modules", "gone"),
		// Whited out and written again: on overlay, a file may take the
		// place of a whiteout of its layer, a folder may not.
		whiteout("srv/node_modules/re", "package.json"),
		npm("srv", "re", "3.0.0"),
		npm("usr/lib", "new-before", "1.0.0"),
		opaqueMarker("usr/lib/node_modules"),
		npm("usr/lib", "new-after", "1.0.0"),
		// A lower layer's symlink in a name: on overlay, a folder hides it.
		npm("lib", "b", "1.0.0"),
		reg("opt/app", "a file now"),
		// A folder replaces a lower layer's file. containerd's overlay
		// applier refuses to make the folders in between implicitly there.
		folder("opt/file"),
		folder("opt/file/node_modules"),
		folder("opt/file/node_modules/y"),
		npm("opt/file", "y", "1.0.0"),
		whiteout("var/lib/dpkg", "aaa-backup"),
	)
	img, err := mutate.AppendLayers(empty.Image, bottom, top)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "tricky"})); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ociBase{dir: dir, digest: digest.String()}
}
