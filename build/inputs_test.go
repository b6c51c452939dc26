package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/moby/buildkit/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
	"github.com/tonistiigi/fsutil"
)

// TestSendPolicyRefusesVEXSymlinkOutside: build --policy refuses a VEX path
// that is a symlink out of the policy file's folder before anything is
// built, as scan and verify do; a symlink inside is sent with its target.
func TestSendPolicyRefusesVEXSymlinkOutside(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "policy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		filepath.Join(top, "outside.json"):      "{}",
		filepath.Join(dir, "inside.json"):       "{}",
		filepath.Join(dir, "secure-build.yaml"): "vex: [app.json]\n",
	} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "app.json")
	if err := os.Symlink("../outside.json", link); err != nil {
		t.Fatal(err)
	}
	solve := client.SolveOpt{LocalMounts: map[string]fsutil.FS{}, FrontendAttrs: map[string]string{}}
	err := SendPolicy(&solve, "secure-build-policy", "SECURE_BUILD_POLICY", filepath.Join(dir, "secure-build.yaml"))
	if err == nil || !strings.Contains(err.Error(), "VEX document app.json: resolves to "+filepath.Join(top, "outside.json")+", outside the policy file's folder") {
		t.Fatalf("SendPolicy with a VEX symlink out of the folder: %v, want it refused", err)
	}

	os.Remove(link)
	if err := os.Symlink("inside.json", link); err != nil {
		t.Fatal(err)
	}
	if err := SendPolicy(&solve, "secure-build-policy", "SECURE_BUILD_POLICY", filepath.Join(dir, "secure-build.yaml")); err != nil {
		t.Fatalf("SendPolicy with a VEX symlink inside the folder: %v", err)
	}
	var sent []string
	err = solve.LocalMounts["secure-build-policy"].Walk(t.Context(), "", func(path string, _ os.DirEntry, err error) error {
		sent = append(sent, path)
		return err
	})
	if err != nil || strings.Join(sent, " ") != "app.json inside.json secure-build.yaml" {
		t.Errorf("sent %v (%v), want the file, the VEX symlink and its target", sent, err)
	}
}

// TestSendDatabaseLayer: the database goes to the builder as its archives
// compressed and their index, which the scan step reads to expand only the
// archives its packages need.
func TestSendDatabaseLayer(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	if _, err := vuln.Import(context.Background(), dir, []vuln.Source{
		{Path: "../vuln/testdata/osv/npm"}, {Path: "../vuln/testdata/osv/Go"},
	}); err != nil {
		t.Fatal(err)
	}
	solve := client.SolveOpt{FrontendAttrs: map[string]string{}, OCIStores: map[string]content.Store{}}
	if err := SendDatabase(&solve, "secure-build-db", dir, ocispecs.Platform{OS: "linux", Architecture: "amd64"}); err != nil {
		t.Fatal(err)
	}
	names, files := layerFiles(t, solve.OCIStores["secure-build-db"].(*imageStore).layer.path)
	sent := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(sent, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := "Go.db.s2 index.json npm.db.s2"; strings.Join(names, " ") != want {
		t.Fatalf("the database layer holds %v, want %s", names, want)
	}
	into := t.TempDir()
	e, err := vuln.NewExpander(sent, into)
	if err != nil {
		t.Fatal(err)
	}
	minimist := sbom.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5"}
	db, err := e.Open([]sbom.Package{minimist})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if expanded, _ := os.ReadDir(into); len(expanded) != 1 || expanded[0].Name() != "npm.db" {
		t.Errorf("an npm package expanded %v, want npm.db alone", expanded)
	}
	if findings, _, err := db.Match([]sbom.Package{minimist}); err != nil || len(findings) == 0 {
		t.Errorf("minimist 1.2.5: %d findings (%v), want its CVE", len(findings), err)
	}
}
