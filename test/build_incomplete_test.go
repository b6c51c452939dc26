package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/rpmdbtest"
)

// damagedStatus is a dpkg status file whose first line is junk: the record
// it falls in (libc6) is lost, zlib1g after it is read.
const damagedStatus = `x
Package: libc6
Status: install ok installed
Version: 2.36-9
Architecture: amd64
Source: glibc

Package: zlib1g
Status: install ok installed
Version: 1:1.2.13.dfsg-1
Architecture: amd64
Source: zlib
`

// TestBuildIncompleteFailsClosed: a final stage whose dpkg status cannot be
// read completely fails the build by default, naming the file and the line,
// before anything is exported; the flag, the build arg and the policy file
// relax it, and the verdict still says INCOMPLETE.
func TestBuildIncompleteFailsClosed(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, "FROM {{base}}\nCOPY status /var/lib/dpkg/status\n", map[string]string{"status": damagedStatus})
	ref := e.reg.Ref("incomplete:1")
	r := e.build(t, dir, "-t", ref, "--push")
	if r.Code != 3 {
		t.Fatalf("build of a stage with a damaged dpkg status: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{"INCOMPLETE", "/var/lib/dpkg/status", "line 1", "nothing was exported", "scan.incomplete"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("output does not say %q:\n%s", want, r.Stderr)
		}
	}
	if e.reg.HasTag(t, "incomplete", "1") {
		t.Error("the incomplete scan pushed the image")
	}

	r = e.build(t, dir, "--incomplete", "warn")
	if r.Code != 0 || !strings.Contains(r.Stderr, "PASS, INCOMPLETE") || !strings.Contains(r.Stderr, "/var/lib/dpkg/status") {
		t.Errorf("--incomplete warn: exit %d, want 0 with the verdict PASS, INCOMPLETE naming the file\n%s", r.Code, r.Stderr)
	}
	if r := e.build(t, dir, "--build-arg", "SECURE_BUILD_INCOMPLETE=off"); r.Code != 0 || !strings.Contains(r.Stderr, "INCOMPLETE") {
		t.Errorf("SECURE_BUILD_INCOMPLETE=off: exit %d, want 0 and INCOMPLETE in the verdict\n%s", r.Code, r.Stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "secure-build.yaml"), []byte("scan:\n  incomplete: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.build(t, dir); r.Code != 0 || !strings.Contains(r.Stderr, "INCOMPLETE") {
		t.Errorf("policy scan.incomplete: warn: exit %d, want 0\n%s", r.Code, r.Stderr)
	}
	// Flags override the policy file.
	if r := e.build(t, dir, "--incomplete", "fail"); r.Code != 3 {
		t.Errorf("--incomplete fail over a relaxing policy file: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	if r := e.build(t, dir, "--incomplete", "sometimes"); r.Code == 0 || !strings.Contains(r.Stderr, "--incomplete") {
		t.Errorf("--incomplete sometimes: exit %d, want an error naming the flag\n%s", r.Code, r.Stderr)
	}
}

// TestBuildReadsWALRPMDatabase: an sqlite rpm database in WAL mode, as rpm
// leaves it, is read in the scan step's read-only mount: its glibc has a
// high finding that fails --fail-on high. The database used to open
// read-write there, fail, and catalog 0 packages.
func TestBuildReadsWALRPMDatabase(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	e.importDB(t, "../vuln/testdata/osv/npm", "../vuln/testdata/osv/Rocky Linux")
	dir := e.project(t, "FROM {{base}}\nCOPY os-release /etc/os-release\nCOPY rpm/ /var/lib/rpm/\n", map[string]string{
		"os-release": "ID=rocky\nVERSION_ID=9.3\n",
	})
	if err := rpmdbtest.WriteWAL(filepath.Join(dir, "rpm"),
		rpmdbtest.Package{Name: "glibc", Version: "2.34", Release: "60.el9", Arch: "x86_64"},
		rpmdbtest.Package{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	r := e.build(t, dir, "--fail-on", "high")
	if r.Code != 3 || !strings.Contains(r.Stderr, "RLSA-2023:5249") {
		t.Fatalf("build with glibc 2.34-60.el9 in a WAL-mode rpmdb: exit %d, want 3 naming RLSA-2023:5249\n%s", r.Code, r.Stderr)
	}
	if strings.Contains(r.Stderr, "INCOMPLETE") {
		t.Errorf("the WAL-mode database was not read completely:\n%s", r.Stderr)
	}
}
