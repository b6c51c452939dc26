package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanDamagedDatabase: a byte flipped in a page of an archive file
// makes "docker secure scan" exit 2 with an error naming the file and how
// to get it back, never a panic nor a scan that quietly misses findings.
func TestScanDamagedDatabase(t *testing.T) {
	t.Parallel()
	env := pluginConfig(t)
	root := t.TempDir()
	pkgDir := filepath.Join(root, "app", "node_modules", "minimist")
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "package.json"), []byte(`{"name": "minimist", "version": "1.2.5"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "npm-all.zip")
	if err := os.WriteFile(archive, osvZip(t, `{"id": "GHSA-xvch-5gv4-984h", "modified": "2024-02-16T08:17:48Z", "aliases": ["CVE-2021-44906"],
		"summary": "Prototype Pollution in minimist", "database_specific": {"severity": "CRITICAL"},
		"affected": [{"package": {"ecosystem": "npm", "name": "minimist"},
			"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.2.4"}, {"introduced": "1.0.0"}, {"fixed": "1.2.6"}]}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "db")
	if res := runCmd(t, env, "docker", "secure", "db", "import", "--db", db, archive); res.Code != 0 {
		t.Fatalf("db import: exit %d: %s", res.Code, res.Stderr)
	}
	if res := runCmd(t, env, "docker", "secure", "scan", "--db", db, root); res.Code != 3 || !strings.Contains(res.Stdout, "CVE-2021-44906") {
		t.Fatalf("scan before the damage: exit %d, want 3 and minimist's critical:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	file := filepath.Join(db, "npm.db")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[2*os.Getpagesize()+64] ^= 0x01
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCmd(t, env, "docker", "secure", "scan", "--db", db, root)
	if res.Code != 2 {
		t.Errorf("scan with a damaged npm.db: exit %d, want 2\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, want := range []string{file, "damaged", "docker secure db update --ecosystem npm", "docker secure db import"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("scan with a damaged npm.db: stderr does not say %q:\n%s", want, res.Stderr)
		}
	}
	if strings.Contains(res.Stderr, "panic") || strings.Contains(res.Stderr, "goroutine ") {
		t.Errorf("scan with a damaged npm.db panicked:\n%s", res.Stderr)
	}
}
