package sbom

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An SBOM written as SPDX reads back to the same packages: what a later scan
// of the document alone matches against.
func TestReadSPDXRoundTrip(t *testing.T) {
	root := debianRoot(t)
	buildEcosystems(t, root)
	want := mustCatalog(t, root)
	var buf bytes.Buffer
	if err := want.WriteSPDX(&buf, EncodeOptions{Created: time.Unix(0, 0), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "root.spdx.json")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSPDX(file)
	if err != nil {
		t.Fatal(err)
	}
	if got.Distro == nil || got.Distro.ID != "debian" || got.Distro.VersionID != "12" || got.Distro.PURLQualifier() != "debian-12" {
		t.Errorf("distro %+v", got.Distro)
	}
	if len(got.Packages) != len(want.Packages) {
		t.Fatalf("%d packages read back, %d written", len(got.Packages), len(want.Packages))
	}
	for i, w := range want.Packages {
		g := got.Packages[i]
		if g.PURL != w.PURL || g.Name != w.Name || g.Version != w.Version || g.Type != w.Type ||
			g.SourceName != w.SourceName || g.SourceVersion != w.SourceVersion ||
			strings.Join(g.Locations, ",") != strings.Join(w.Locations, ",") {
			t.Errorf("package %d read back as\n  %+v\nwritten as\n  %+v", i, g, w)
		}
	}
}

func TestReadSPDXBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not-json.spdx.json": "<html>",
		"bad-purl.spdx.json": `{"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "x",
			"documentNamespace": "https://example.com/x", "creationInfo": {"creators": ["Tool: x"], "created": "2024-01-01T00:00:00Z"},
			"packages": [{"name": "broken", "SPDXID": "SPDXRef-p", "downloadLocation": "NOASSERTION",
				"externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "not a purl"}]}]}`,
	}
	for name, content := range cases {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSPDX(file); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if _, err := ReadSPDX(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}
