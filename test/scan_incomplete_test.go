package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanIncompleteThroughDockerCLI: "docker secure scan" of a root whose
// dpkg status starts with a junk line used to print a warning and exit 0.
// It fails as a policy failure naming the file and line, in the table and
// the JSON report; --incomplete warn passes and still says INCOMPLETE.
func TestScanIncompleteThroughDockerCLI(t *testing.T) {
	t.Parallel()
	env := pluginConfig(t)
	root := t.TempDir()
	for name, content := range map[string]string{
		"etc/os-release":      "ID=debian\nVERSION_ID=12\n",
		"var/lib/dpkg/status": damagedStatus,
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(t.TempDir(), "db")
	if r := runCmd(t, env, "docker", "secure", "db", "import", "--db", db, "../vuln/testdata/osv/npm"); r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
	r := runCmd(t, env, "docker", "secure", "scan", "--db", db, root)
	if r.Code != 3 {
		t.Fatalf("scan of a damaged dpkg status: exit %d, want 3 (the policy failed)\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"INCOMPLETE", "/var/lib/dpkg/status", "line 1"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("table does not say %q:\n%s", want, r.Stdout)
		}
	}
	r = runCmd(t, env, "docker", "secure", "scan", "--db", db, "--incomplete", "warn", "--format", "json", root)
	if r.Code != 0 || !strings.Contains(r.Stdout, `"status": "PASS, INCOMPLETE"`) || !strings.Contains(r.Stderr, "not read: /var/lib/dpkg/status") {
		t.Errorf("--incomplete warn: exit %d, want 0 with the status PASS, INCOMPLETE\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
