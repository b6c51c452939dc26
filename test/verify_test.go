package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newMinimistID is an advisory written for the test, published "after" the
// build: minimist 1.2.6 is affected, 1.2.7 fixes it.
const newMinimistID = "GHSA-2099-mini-new0"

const newMinimistRecord = `{
  "id": "` + newMinimistID + `",
  "modified": "2099-01-01T00:00:00Z",
  "summary": "written for the tests: a minimist advisory newer than the build",
  "database_specific": {"severity": "CRITICAL"},
  "affected": [{
    "package": {"ecosystem": "npm", "name": "minimist"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.7"}]}]
  }]
}`

// TestVerifyPushedImage: an image built and pushed by "docker secure build"
// verifies against the database it was built with, then fails once a new
// record about one of its packages is imported; inspect shows what was
// attached; an image pushed without attestations is an error unless --scan.
func TestVerifyPushedImage(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, "FROM {{base}}\nCOPY minimist.json /app/node_modules/minimist/package.json\n",
		map[string]string{"minimist.json": npmPackage("minimist", "1.2.6")})
	ref := e.reg.Ref("app:1")
	if r := e.build(t, dir, "-t", ref, "--push"); r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	env := []string{"DOCKER_CONFIG=" + t.TempDir()}

	r := runCmd(t, env, binary, "verify", "--db", e.db, ref)
	if r.Code != 0 || !strings.Contains(r.Stdout, "At build: PASS") || !strings.Contains(r.Stdout, "New since the build: none") {
		t.Errorf("verify with the build's database: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCmd(t, env, binary, "inspect", ref)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Packages: 1 (npm 1)") || !strings.Contains(r.Stdout, "Verdict: PASS") {
		t.Errorf("inspect: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}

	// Today's database: the testdata's npm records and one published since.
	records := t.TempDir()
	for _, f := range []string{"GHSA-xvch-5gv4-984h.json", "GHSA-2099-last-aff.json"} {
		b, err := os.ReadFile(filepath.Join("../vuln/testdata/osv/npm", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(records, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(records, newMinimistID+".json"), []byte(newMinimistRecord), 0o644); err != nil {
		t.Fatal(err)
	}
	today := filepath.Join(t.TempDir(), "db")
	if r := runCmd(t, nil, binary, "db", "import", "--db", today, records); r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
	r = runCmd(t, env, binary, "verify", "--db", today, ref)
	if r.Code != 3 || !strings.Contains(r.Stdout, "New since the build: 1 ("+newMinimistID+")") ||
		!strings.Contains(r.Stderr, "critical "+newMinimistID+" minimist 1.2.6 -> 1.2.7") {
		t.Errorf("verify with today's database: exit %d, want 3 naming %s\nstdout:\n%s\nstderr:\n%s", r.Code, newMinimistID, r.Stdout, r.Stderr)
	}

	// An image pushed by plain BuildKit has no attestations.
	plain := e.bk.Push(t, e.reg.Ref("plain:1"), dir, dir)
	r = runCmd(t, env, binary, "verify", "--db", today, plain.Ref)
	if want := plain.Ref + " has no SBOM attestation for linux/"; r.Code != 2 || !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, "--scan") {
		t.Errorf("verify without attestations: exit %d, want 2 saying %q and --scan\n%s", r.Code, want, r.Stderr)
	}
	r = runCmd(t, env, binary, "verify", "--scan", "--db", today, plain.Ref)
	if r.Code != 3 || !strings.Contains(r.Stdout, "scanned the image now (--scan)") || !strings.Contains(r.Stderr, newMinimistID+" minimist 1.2.6") {
		t.Errorf("verify --scan: exit %d, want 3 naming %s\nstdout:\n%s\nstderr:\n%s", r.Code, newMinimistID, r.Stdout, r.Stderr)
	}
	r = runCmd(t, env, binary, "scan", "--db", e.db, "registry:"+plain.Ref)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Target: registry:"+plain.Ref) {
		t.Errorf("scan registry:%s: exit %d\nstdout:\n%s\nstderr:\n%s", plain.Ref, r.Code, r.Stdout, r.Stderr)
	}
}
