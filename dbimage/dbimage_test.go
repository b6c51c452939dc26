package dbimage

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// TestImage packs a database, then unpacks the layer into a folder that
// opens as the same database: same archives, same import times.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	if _, err := vuln.Import(context.Background(), dir, []vuln.Source{{Path: "../vuln/testdata/osv/npm"}, {Path: "../vuln/testdata/osv/Debian"}}); err != nil {
		t.Fatal(err)
	}
	p, err := Image(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg, err := p.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var updated map[string]string
	if err := json.Unmarshal([]byte(cfg.Config.Labels[LabelUpdated]), &updated); err != nil || len(updated) != 2 {
		t.Errorf("label %s = %q (%v), want both archives", LabelUpdated, cfg.Config.Labels[LabelUpdated], err)
	}
	layers, err := p.Layers()
	if err != nil || len(layers) != 1 || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("%d layers, %d diff ids (%v), want one", len(layers), len(cfg.RootFS.DiffIDs), err)
	}
	if d, _ := layers[0].DiffID(); d != cfg.RootFS.DiffIDs[0] {
		t.Errorf("config diff id %s, layer %s", cfg.RootFS.DiffIDs[0], d)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := t.TempDir()
	tr := tar.NewReader(rc)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hdr.Name, "/") {
			t.Errorf("%s is not at the layer's root", hdr.Name)
		}
		names = append(names, hdr.Name)
		f, err := os.Create(filepath.Join(out, hdr.Name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if strings.Join(names, ",") != "Debian.db,npm.db" {
		t.Errorf("layer holds %v, want Debian.db and npm.db", names)
	}
	orig, err := vuln.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	unpacked, err := vuln.Open(out)
	if err != nil {
		t.Fatalf("the unpacked layer is not a database: %v", err)
	}
	defer unpacked.Close()
	if !unpacked.Oldest().Equal(orig.Oldest()) || !cfg.Created.Time.Equal(orig.Oldest()) {
		t.Errorf("import times differ: unpacked %v, original %v, image created %v", unpacked.Oldest(), orig.Oldest(), cfg.Created.Time)
	}
	findings, _, err := unpacked.Match([]sbom.Package{{Name: "minimist", Version: "1.2.5", Type: "npm", PURL: "pkg:npm/minimist@1.2.5"}})
	if err != nil || len(findings) != 1 || findings[0].ID != "CVE-2021-44906" {
		t.Errorf("the unpacked database matches %+v (%v), want minimist's CVE-2021-44906", findings, err)
	}
	mt, err := p.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s (%v), want OCI", mt, err)
	}
	m, err := p.Manifest()
	if err != nil || m.Config.MediaType != types.OCIConfigJSON || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("config %s, layer %v (%v): want OCI media types throughout", m.Config.MediaType, m.Layers, err)
	}
}

func TestImageWithoutDatabase(t *testing.T) {
	if _, err := Image(t.TempDir(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "docker secure db update") {
		t.Errorf("empty folder: got %v, want the error that says how to get data", err)
	}
}
