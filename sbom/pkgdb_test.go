package sbom

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"

	"github.com/secure-build/secure-build/internal/rpmdbtest"
)

// A damaged record of a package database costs that record, not the rest
// of the file, and makes the catalog incomplete naming the file and line.

func TestDpkgStatusJunkFirstLine(t *testing.T) {
	// One junk line at the top: osv-scalibr's reader stopped there, and the
	// build passed with 0 packages.
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", debianOSRelease)
	writeFile(t, root, "var/lib/dpkg/status", "x\n"+dpkgStatus)
	s := mustCatalog(t, root)
	w := requireIncomplete(t, s, "/var/lib/dpkg/status")
	if !strings.Contains(w, "line 1") || !strings.Contains(w, "damaged") {
		t.Errorf("incompleteness does not name the damaged line: %s", w)
	}
	// The junk line belongs to libc6's record: that one is lost, the
	// others are read.
	requirePackage(t, s, "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12&upstream=base-files%4012.4%2Bdeb12u5")
	if got := findByName(s, "deb", "libc6"); len(got) != 0 {
		t.Errorf("libc6 read from a damaged record: %+v", got)
	}
}

func TestDpkgStatusDamagedRecords(t *testing.T) {
	for _, tc := range []struct {
		name, record, want string
	}{
		{"no version", "Package: curl\nStatus: install ok installed\n", "without Package or Version"},
		{"no status", "Package: curl\nVersion: 7.88.1-10\n", "no Status field"},
		{"bad status", "Package: curl\nStatus: installed\nVersion: 7.88.1-10\n", "Status"},
		{"bad source", "Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\nSource: curl (7.88\n", "Source"},
		{"not a field", "Package: curl\nStatus: install ok installed\nnonsense line\nVersion: 7.88.1-10\n", "not a field"},
		{"leading continuation", " continued\nPackage: curl\nStatus: install ok installed\nVersion: 7.88.1-10\n", "continuation"},
		{"field twice", "Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\nVersion: 7.88.1-11\n", "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "etc/os-release", debianOSRelease)
			writeFile(t, root, "var/lib/dpkg/status", dpkgStatus+"\n"+tc.record+"\nPackage: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\nSource: zlib\n")
			s := mustCatalog(t, root)
			w := requireIncomplete(t, s, "/var/lib/dpkg/status")
			if !strings.Contains(w, tc.want) {
				t.Errorf("incompleteness %q does not say %q", w, tc.want)
			}
			// The records before and after the damaged one are read.
			if len(findByName(s, "deb", "libc6")) != 1 || len(findByName(s, "deb", "zlib1g")) != 1 {
				t.Errorf("packages around the damaged record lost: %q", purls(s))
			}
			if got := findByName(s, "deb", "curl"); len(got) != 0 {
				t.Errorf("curl read from a damaged record: %+v", got)
			}
		})
	}
}

func TestDpkgStatusStatesWithFiles(t *testing.T) {
	// A package left unpacked or half-configured has its files in the
	// image; one removed with its config files kept has none.
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", debianOSRelease)
	writeFile(t, root, "var/lib/dpkg/status", `Package: curl
Status: install ok unpacked
Version: 7.88.1-10

Package: wget
Status: install ok half-configured
Version: 1.21.3-1

Package: nano
Status: deinstall ok config-files
Version: 7.2-1
`)
	s := mustCatalog(t, root)
	if len(s.Incomplete) != 0 {
		t.Errorf("incomplete: %q", s.Incomplete)
	}
	if len(findByName(s, "deb", "curl")) != 1 || len(findByName(s, "deb", "wget")) != 1 {
		t.Errorf("packages whose files are present are missing: %q", purls(s))
	}
	if len(findByName(s, "deb", "nano")) != 0 {
		t.Errorf("a removed package is listed: %q", purls(s))
	}
}

func TestDistrolessStatusFileDamaged(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", debianOSRelease)
	writeFile(t, root, "var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n")
	writeFile(t, root, "var/lib/dpkg/status.d/openssl", "garbage\x00\x01")
	s := mustCatalog(t, root)
	requireIncomplete(t, s, "/var/lib/dpkg/status.d/openssl")
	if len(findByName(s, "deb", "tzdata")) != 1 {
		t.Errorf("tzdata missing: %q", purls(s))
	}
}

const apkInstalledDB = `C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
L:MIT
o:musl

C:Q1def=
P:zlib
V:1.3.1-r0
A:x86_64
L:Zlib
o:zlib
`

func TestApkInstalledDamagedRecord(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")
	// A junk line in the first record: osv-scalibr's reader returned
	// nothing at all for the file.
	writeFile(t, root, "lib/apk/db/installed", "junk\n"+apkInstalledDB+"\nP:busybox\nA:x86_64\n")
	s := mustCatalog(t, root)
	w := requireIncomplete(t, s, "/lib/apk/db/installed")
	if !strings.Contains(w, "2 of 3 package records damaged") {
		t.Errorf("incompleteness %q does not count the damaged records", w)
	}
	if len(findByName(s, "apk", "zlib")) != 1 {
		t.Errorf("zlib, after the damaged record, is missing: %q", purls(s))
	}
	if len(findByName(s, "apk", "musl")) != 0 || len(findByName(s, "apk", "busybox")) != 0 {
		t.Errorf("packages read from damaged records: %q", purls(s))
	}
}

func TestApkInstalledClean(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")
	writeFile(t, root, "lib/apk/db/installed", apkInstalledDB)
	s := mustCatalog(t, root)
	if len(s.Incomplete) != 0 {
		t.Errorf("incomplete: %q", s.Incomplete)
	}
	p := requirePackage(t, s, "pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=alpine-3.19.1&upstream=zlib")
	if len(p.Licenses) != 1 || p.Licenses[0] != "Zlib" {
		t.Errorf("licenses = %q", p.Licenses)
	}
}

func TestReadRecordsBoundedByBytesRead(t *testing.T) {
	// A line longer than the limit is an error, not an allocation of it.
	data := "Package: a\nDescription: " + strings.Repeat("x", 4096) + "\n"
	_, _, err := readRecords(strings.NewReader(data), "/status", 1024, dpkgFormat)
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("err = %v, want larger than 1024 bytes", err)
	}
}

// FuzzDpkgStatus feeds arbitrary status files to the dpkg reader: it never
// panics, every record is either a package or named as damaged, and a
// package always has a name and a version.
func FuzzDpkgStatus(f *testing.F) {
	f.Add([]byte(dpkgStatus))
	f.Add([]byte("x\n" + dpkgStatus))
	f.Add([]byte("Package: a\n Version: 1\n\n\n\nPackage: b\nStatus: install ok installed\nVersion: 2\nSource: c (3)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &filesystem.ScanInput{Path: "var/lib/dpkg/status", Reader: bytes.NewReader(data)}
		inv, err := dpkgStatusFile{}.Extract(context.Background(), in)
		for _, p := range inv.Packages {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v (err %v)", p, err)
			}
		}
	})
}

// FuzzApkInstalled does the same for apk's installed database.
func FuzzApkInstalled(f *testing.F) {
	f.Add([]byte(apkInstalledDB))
	f.Add([]byte("junk\n" + apkInstalledDB))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &filesystem.ScanInput{Path: "lib/apk/db/installed", Reader: bytes.NewReader(data)}
		inv, _ := apkInstalledFile{}.Extract(context.Background(), in)
		for _, p := range inv.Packages {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func TestPackageDatabaseBehindSymlinks(t *testing.T) {
	// The container reads /var/lib/dpkg/status through the links; the walk
	// sees the file only where it is, under a name no extractor knows.
	t.Run("folder linked absolute", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "etc/os-release", debianOSRelease)
		writeFile(t, root, "data/dpkg/status", dpkgStatus)
		symlink(t, root, "/data/dpkg", "var/lib/dpkg")
		s := mustCatalog(t, root)
		p := requirePackage(t, s, "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc%402.36-9")
		if len(p.Locations) != 1 || p.Locations[0] != "/var/lib/dpkg/status" {
			t.Errorf("locations = %q, want the path the container reads", p.Locations)
		}
	})
	t.Run("file linked relative", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")
		writeFile(t, root, "lib/apk/db/installed.real", apkInstalledDB)
		symlink(t, root, "installed.real", "lib/apk/db/installed")
		s := mustCatalog(t, root)
		if len(findByName(s, "apk", "zlib")) != 1 {
			t.Errorf("apk database behind a link not read: %q", purls(s))
		}
	})
	t.Run("status.d linked", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "etc/os-release", debianOSRelease)
		writeFile(t, root, "pkgs/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n")
		symlink(t, root, "../../../pkgs", "var/lib/dpkg/status.d")
		s := mustCatalog(t, root)
		if len(findByName(s, "deb", "tzdata")) != 1 {
			t.Errorf("status.d behind a link not read: %q", purls(s))
		}
	})
	t.Run("climbing out stays inside", func(t *testing.T) {
		// A link that climbs above the root reaches the root's own file in
		// the container, never the host's.
		root := t.TempDir()
		writeFile(t, root, "etc/os-release", debianOSRelease)
		writeFile(t, root, "var/lib/dpkg/real/status", dpkgStatus)
		symlink(t, root, strings.Repeat("../", 40)+"var/lib/dpkg/real", "var/lib/dpkg2")
		symlink(t, root, "/var/lib/dpkg2/status", "var/lib/rpm/Packages")
		s := mustCatalog(t, root)
		for _, p := range s.Packages {
			if p.Type == "rpm" {
				t.Errorf("rpm package from a dpkg file: %s", p.PURL)
			}
		}
		requireIncomplete(t, s, "/var/lib/rpm/Packages")
	})
	t.Run("loop", func(t *testing.T) {
		root := t.TempDir()
		symlink(t, root, "/var/lib/dpkg/b", "var/lib/dpkg/a")
		symlink(t, root, "/var/lib/dpkg/a", "var/lib/dpkg/b")
		symlink(t, root, "a", "var/lib/dpkg/status")
		s := mustCatalog(t, root)
		requireIncomplete(t, s, "/var/lib/dpkg/status")
	})
}

// FuzzOSRelease reads arbitrary /etc/os-release files: never a panic, and a
// distro always has an ID.
func FuzzOSRelease(f *testing.F) {
	f.Add([]byte(debianOSRelease))
	f.Add([]byte("ID=alpine\nVERSION_ID=3.19.1\n"))
	f.Add([]byte("ID=\"rocky\"\nVERSION_ID='9.3'\n# comment\nPRETTY_NAME=\"Rocky \\\"Linux\\\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		writeBytes(t, root, "etc/os-release", data, 0o644)
		c := &cataloger{root: root, fsys: rootFS{root: root}}
		if d := c.readDistro(); d != nil && d.ID == "" {
			t.Fatalf("distro without an ID: %+v", d)
		}
	})
}

func TestOSReleaseParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		id, ver string
		err     string
	}{
		{in: debianOSRelease, id: "debian", ver: "12"},
		{in: "ID='rocky'\nVERSION_ID=\"9.3\"\n", id: "rocky", ver: "9.3"},
		{in: "NAME=Buildroot\nID=buildroot\nPRETTY_NAME=\"\nVERSION_ID=2024.02\n", id: "buildroot", ver: "2024.02"},
		{in: "ID=\"\n", err: "line 1: ID: unbalanced quote"},
		{in: "ID=debian\nVERSION_ID=\"12\" x\n", err: "line 2: VERSION_ID"},
		{in: "=\"\nID=alpine\n", id: "alpine"},
	} {
		m, err := parseOSRelease([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || m["ID"] != tc.id || m["VERSION_ID"] != tc.ver {
			t.Errorf("%q: %v, %v; want ID %q VERSION_ID %q", tc.in, m, err, tc.id, tc.ver)
		}
	}
}

func TestRPMWithBrokenOSRelease(t *testing.T) {
	// osv-scalibr's rpm extractor reads os-release with a reader that
	// panics on a lone quote: it is not given the file.
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=rocky\nVERSION_ID=9.3\nNAME=\"\n")
	if err := rpmdbtest.WriteWAL(filepath.Join(root, "var/lib/rpm"), rpmdbtest.Package{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"}); err != nil {
		t.Fatal(err)
	}
	s := mustCatalog(t, root)
	if len(s.Incomplete) != 0 || len(findByName(s, "rpm", "zlib")) != 1 {
		t.Errorf("packages %q, incomplete %q; want zlib and nothing incomplete", purls(s), s.Incomplete)
	}
}

// panickyExtractor stands for a third-party parser that trusted its input.
type panickyExtractor struct{ filesystem.Extractor }

func (panickyExtractor) Name() string { return "panicky" }
func (panickyExtractor) FileRequired(api filesystem.FileAPI) bool {
	return strings.HasSuffix(api.Path(), ".boom")
}
func (panickyExtractor) Extract(context.Context, *filesystem.ScanInput) (inventory.Inventory, error) {
	var s []int
	_ = s[1]
	return inventory.Inventory{}, nil
}

func TestExtractorPanicIsIncomplete(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "srv/a.boom", "x")
	addSentinel(t, root)
	extractors, err := newExtractors()
	if err != nil {
		t.Fatal(err)
	}
	s, err := catalogWith(context.Background(), root, "test", append(extractors, panickyExtractor{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := requireIncomplete(t, s, "/srv/a.boom"); !strings.Contains(w, "parser failed") {
		t.Errorf("incompleteness does not say the parser failed: %s", w)
	}
	requirePackage(t, s, sentinelPURL)
}

func TestApkRecordsRunTogether(t *testing.T) {
	// The blank line between two records is lost: the second P and V would
	// replace the first package without a word.
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")
	writeFile(t, root, "lib/apk/db/installed", "P:musl\nV:1.2.4-r2\nP:zlib\nV:1.3.1-r0\n\nP:busybox\nV:1.36.1-r15\n")
	s := mustCatalog(t, root)
	if w := requireIncomplete(t, s, "/lib/apk/db/installed"); !strings.Contains(w, "field P given twice") {
		t.Errorf("incompleteness %q does not name the repeated field", w)
	}
	if len(findByName(s, "apk", "busybox")) != 1 || len(findByName(s, "apk", "zlib")) != 0 {
		t.Errorf("packages: %q", purls(s))
	}
}

func TestMalformedPackageJSONOnlyAtPackageRoots(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		// resolve ships this as a test fixture.
		"app/node_modules/resolve/package.json":                                      `{"name": "resolve", "version": "1.22.8"}`,
		"app/node_modules/resolve/test/resolver/malformed_package_json/package.json": "{\n",
		"app/node_modules/@scope/broken/package.json":                                "{",
		"app/node_modules/broken/package.json":                                       "{",
	})
	s := mustCatalog(t, root)
	if incompleteAbout(s, "malformed_package_json") != "" {
		t.Errorf("a package's test fixture made the scan incomplete: %q", s.Incomplete)
	}
	requireIncomplete(t, s, "/app/node_modules/@scope/broken/package.json")
	requireIncomplete(t, s, "/app/node_modules/broken/package.json")
	requirePackage(t, s, "pkg:npm/resolve@1.22.8")
}

func TestSPDXCarriesIncompleteness(t *testing.T) {
	// scan sbom:FILE and verify match an SBOM's packages again: what the
	// catalog could not read must stay unread there.
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", debianOSRelease)
	writeFile(t, root, "var/lib/dpkg/status", "x\n"+dpkgStatus)
	s := mustCatalog(t, root)
	if len(s.Incomplete) == 0 {
		t.Fatal("test setup: the catalog is complete")
	}
	var buf bytes.Buffer
	if err := s.WriteSPDX(&buf, EncodeOptions{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSPDX(&buf, "app.spdx.json")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Incomplete, s.Incomplete) {
		t.Errorf("read back %q, want %q", back.Incomplete, s.Incomplete)
	}
}
