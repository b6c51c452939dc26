package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/sbom"
)

// TestCatalog: each kind of target is read from where it names, and
// the SBOM's source is the target as given.
func TestCatalog(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	path, body, pkg := attesttest.NPMModule("minimist", "1.2.5")
	img, err := crane.Image(map[string][]byte{path: body})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, path), body, 0o644); err != nil {
		t.Fatal(err)
	}

	spdx := filepath.Join(t.TempDir(), "app.spdx.json")
	f, err := os.Create(spdx)
	if err != nil {
		t.Fatal(err)
	}
	doc := &sbom.SBOM{Source: "test", Packages: []sbom.Package{pkg}}
	if err := doc.WriteSPDX(f, sbom.EncodeOptions{Created: time.Unix(0, 0), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "1"})); err != nil {
		t.Fatal(err)
	}

	archive := filepath.Join(t.TempDir(), "app.tar")
	if err := tarball.WriteToFile(archive, name.MustParseReference("example.com/app:1"), img); err != nil {
		t.Fatal(err)
	}

	// The same layout as a tar, as "-o type=oci,dest=FILE" writes it.
	ociTar := filepath.Join(t.TempDir(), "app-oci.tar")
	if out, err := exec.Command("tar", "-cf", ociTar, "-C", dir, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	notTar := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notTar, []byte(strings.Repeat("not a tar\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}

	host := testutil.MemoryRegistry(t, nil)
	ref, err := name.ParseReference(host + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}

	for _, target := range []string{root, "sbom:" + spdx, "oci-layout:" + dir + ":1", "docker-archive:" + archive, "registry:" + ref.String(),
		"oci-layout:" + ociTar + ":1", "docker-archive:" + ociTar, ociTar, archive} {
		s, err := Catalog(ctx, target)
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		var purls []string
		for _, p := range s.Packages {
			purls = append(purls, p.PURL)
		}
		if s.Source != target || !slices.Equal(purls, []string{pkg.PURL}) {
			t.Errorf("%s: source %q, packages %q; want the target and %s", target, s.Source, purls, pkg.PURL)
		}
	}
	for target, want := range map[string]string{
		"registry:" + host + "/missing:1":             "no such image in the registry",
		"oci-layout:" + filepath.Join(root, "none"):   "open OCI layout",
		"sbom:" + filepath.Join(root, "none.json"):    "none.json",
		"docker-archive:" + filepath.Join(root, "no"): "open docker archive",
		notTar:                      notTar + " is not a tar",
		filepath.Join(root, "none"): "no such file or directory",
	} {
		if _, err := Catalog(ctx, target); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", target, err, want)
		}
	}
	if entries, _ := os.ReadDir(os.Getenv("TMPDIR")); len(entries) != 0 {
		t.Errorf("unpacked images left behind: %v", entries)
	}
}
