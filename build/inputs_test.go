package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
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
