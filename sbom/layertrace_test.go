package sbom

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// statusStanza is a dpkg status record of an installed package.
func statusStanza(name, version string) string {
	return "Package: " + name + "\nStatus: install ok installed\nVersion: " + version + "\nArchitecture: amd64\n\n"
}

// TestImageLayersVersions: each layer's version of a package database is
// kept, and asked about by the packages it holds; a version a bound cut
// short cannot be told (an error, never "absent"), and a file whose
// versions were not kept says so.
func TestImageLayersVersions(t *testing.T) {
	isolateTemp(t)
	osRelease := file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
	padding := strings.Repeat(statusStanza("filler", "1.0"), 200)
	img := image(t,
		layer(t, osRelease, file("var/lib/dpkg/status", statusStanza("libc6", "2.36-9")+padding)),
		layer(t, file("var/lib/dpkg/status", statusStanza("libc6", "2.36-9")+statusStanza("curl", "7.88"))),
		layer(t, file("etc/motd", "hello")),
		layer(t, file("var/lib/dpkg/.wh.status", "")),
		layer(t, file("var/lib/dpkg/status", statusStanza("libc6", "2.36-9")+statusStanza("curl", "7.88"))),
	)
	// The first status does not fit the budget; the others do.
	s, layers, err := unpackAndCatalog(context.Background(), img, "test", true, int64(len(padding)/2))
	if err != nil {
		t.Fatal(err)
	}
	defer layers.Close()
	if len(s.Incomplete) != 0 {
		t.Fatalf("the final catalog should be whole: %v", s.Incomplete)
	}
	curl := requirePackage(t, s, "pkg:deb/debian/curl@7.88?arch=amd64&distro=debian-12&upstream=curl%407.88")
	const loc = "/var/lib/dpkg/status"
	if layers.Len() != 5 || !layers.Traced(loc) {
		t.Fatalf("Len %d, Traced %v: want 5 layers and the status traced", layers.Len(), layers.Traced(loc))
	}
	changed := map[int]bool{1: true, 2: false, 3: true, 4: true}
	for k, want := range changed {
		got, err := layers.Changed(loc, k)
		if err != nil || got != want {
			t.Errorf("Changed(layer %d) = %v, %v; want %v", k, got, err, want)
		}
	}
	has := map[int]bool{1: true, 2: true, 3: false, 4: true}
	for k, want := range has {
		got, err := layers.Has(context.Background(), curl.PURL, loc, k)
		if err != nil || got != want {
			t.Errorf("Has(curl, layer %d) = %v, %v; want %v", k, got, err, want)
		}
	}
	if _, err := layers.Has(context.Background(), curl.PURL, loc, 0); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Errorf("Has on the version the budget cut = %v; want an error naming the budget", err)
	}
	if _, err := layers.Changed("/etc/motd", 2); !errors.Is(err, ErrNotTraced) {
		t.Errorf("Changed on a file no extractor reads = %v; want ErrNotTraced", err)
	}
	if k, ok := layers.LastWriter(loc); !ok || k != 4 {
		t.Errorf("LastWriter = %d, %v; want layer 4", k, ok)
	}
}

// TestImageLayersLinkedDatabase: a package database the container reaches
// through a symlink has each layer's version kept too, though its own name
// is one no extractor reads: the earlier version is read again after the
// layers, as the final one is.
func TestImageLayersLinkedDatabase(t *testing.T) {
	isolateTemp(t)
	img := image(t,
		layer(t, file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"), file("data/dpkg/status", statusStanza("libc6", "2.36-9")), link("var/lib/dpkg", "/data/dpkg")),
		layer(t, file("data/dpkg/status", statusStanza("libc6", "2.36-9")+statusStanza("curl", "7.88"))),
	)
	s, layers, err := CatalogImageLayers(context.Background(), img, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer layers.Close()
	const loc = "/var/lib/dpkg/status"
	libc := requirePackage(t, s, "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=libc6%402.36-9")
	curl := requirePackage(t, s, "pkg:deb/debian/curl@7.88?arch=amd64&distro=debian-12&upstream=curl%407.88")
	if !slices.Contains(libc.Locations, loc) {
		t.Fatalf("libc6 at %v, want %s", libc.Locations, loc)
	}
	for _, c := range []struct {
		purl string
		want bool
	}{{libc.PURL, true}, {curl.PURL, false}} {
		got, err := layers.Has(context.Background(), c.purl, loc, 0)
		if err != nil || got != c.want {
			t.Errorf("Has(%s, layer 0) = %v, %v; want %v", c.purl, got, err, c.want)
		}
	}
}

// TestImageLayersTraceCut: past the bound on lookups the versions are not
// kept, and a package file read for its content says why rather than
// passing for its last writer's.
func TestImageLayersTraceCut(t *testing.T) {
	isolateTemp(t)
	defer func(n int) { maxTraceLookups = n }(maxTraceLookups)
	maxTraceLookups = 3
	img := image(t,
		layer(t, file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"), file("var/lib/dpkg/status", statusStanza("libc6", "2.36-9"))),
		layer(t, file("var/lib/dpkg/status", statusStanza("libc6", "2.36-9")+statusStanza("curl", "7.88"))),
	)
	_, layers, err := CatalogImageLayers(context.Background(), img, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer layers.Close()
	const loc = "/var/lib/dpkg/status"
	if !layers.Traced(loc) {
		t.Fatal("the status is read for its content: it must be traced, not taken by its last writer")
	}
	if _, err := layers.Changed(loc, 1); err == nil || !strings.Contains(err.Error(), "lookups") {
		t.Errorf("Changed after the cut = %v; want an error naming the bound", err)
	}
}

// TestImageLayersHostile: the hostile image cataloged with its layers'
// versions kept gives the same catalog, and every package location can be
// asked about in every layer without leaving the unpack: the new module
// of the opaque folder and the one written through a symlink came with the
// top layer, the base's status with the first.
func TestImageLayersHostile(t *testing.T) {
	isolateTemp(t)
	marker := "secure-build-test-" + filepath.Base(t.TempDir())
	ctx := context.Background()
	s, layers, err := CatalogImageLayers(ctx, hostileImage(t, marker), "hostile")
	if err != nil {
		t.Fatal(err)
	}
	defer layers.Close()
	checkHostileImageCatalog(t, s)
	for _, p := range s.Packages {
		for _, loc := range p.Locations {
			if !layers.Traced(loc) {
				t.Errorf("%s at %s: not traced", p.PURL, loc)
				continue
			}
			for k := range layers.Len() {
				if k > 0 {
					if _, err := layers.Changed(loc, k); err != nil {
						t.Errorf("%s at %s: Changed(%d): %v", p.PURL, loc, k, err)
					}
				}
				if _, err := layers.Has(ctx, p.PURL, loc, k); err != nil {
					t.Errorf("%s at %s: Has(%d): %v", p.PURL, loc, k, err)
				}
			}
		}
	}
	for _, c := range []struct {
		purl, loc string
		in0       bool
	}{
		{"pkg:npm/new@2.0.0", "/srv/opq/node_modules/new/package.json", false},
		{"pkg:npm/through@1.0.0", "/srv/target/node_modules/through/package.json", false},
		{"pkg:npm/kept@1.0.0", "/srv/node_modules/kept/package.json", true},
		{"pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc%402.36-9", "/var/lib/dpkg/status", true},
	} {
		if got, err := layers.Has(ctx, c.purl, c.loc, 0); err != nil || got != c.in0 {
			t.Errorf("Has(%s, layer 0) = %v, %v; want %v", c.purl, got, err, c.in0)
		}
	}
	if _, err := os.Lstat("/etc/" + marker); err == nil {
		t.Errorf("/etc/%s written on the host", marker)
	}
}
