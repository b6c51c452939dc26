package test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-build/secure-build/internal/imagetest"
	"github.com/secure-build/secure-build/internal/testutil"
	sbregistry "github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/sbom"
)

// trickyImage is the spec of an image whose layers hold the entries layer
// appliers disagree on — a dpkg status hard-linked to another entry,
// whiteouts, an opaque folder with entries before and after its marker,
// duplicate entries, folders and files replacing each other across layers,
// symlinks in names (of the same layer and of a lower one), names with ".."
// or absolute — and trickyTree the files and symlinks of its root
// filesystem; sbom's unit tests check its unpack gives that tree.
const (
	trickyImage = "../sbom/testdata/tricky-image/layers.txt"
	trickyTree  = "../sbom/testdata/tricky-image/tree.txt"
)

// TestImageUnpackMatchesBuildKit checks, against a real BuildKit, the tree
// sbom's unit tests expect of the tricky image: a build FROM the image,
// exported with type=local, has exactly those files and symlinks, with that
// content. And cataloging the image as an OCI layout finds exactly what
// cataloging BuildKit's root filesystem finds: every package, at every
// location, the hard-linked dpkg status's packages included.
func TestImageUnpackMatchesBuildKit(t *testing.T) {
	t.Parallel()
	bk := buildKit(t)
	base := trickyImageLayout(t)

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
	bk.Build(t, append(args, base.ContextArgs("base")...)...)

	b, err := os.ReadFile(trickyTree)
	if err != nil {
		t.Fatal(err)
	}
	wantTree := strings.Split(strings.TrimSpace(string(b)), "\n")
	gotTree, err := imagetest.TreeListing(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotTree, wantTree) {
		t.Errorf("BuildKit's tree differs from %s\nonly in %[1]s:\n  %s\nonly in BuildKit's:\n  %s", trickyTree,
			strings.Join(minus(wantTree, gotTree), "\n  "), strings.Join(minus(gotTree, wantTree), "\n  "))
	}

	ctx := context.Background()
	want, err := sbom.Catalog(ctx, out, out)
	if err != nil {
		t.Fatal(err)
	}
	source := sbregistry.OCILayoutPrefix + base.Dir + "@" + base.Digest
	img, err := sbregistry.Open(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sbom.CatalogImage(ctx, img, source)
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

// trickyImageLayout writes the tricky image as an OCI layout.
func trickyImageLayout(t *testing.T) testutil.OCILayout {
	t.Helper()
	layers, err := imagetest.ReadLayers(trickyImage)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.WriteLayout(t, testutil.Image(t, v1.Config{}, layers...))
}
