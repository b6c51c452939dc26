//go:build unix

package sbom

import (
	"bytes"
	"compress/zlib"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secure-build/secure-build/internal/hostiletest"
	"github.com/secure-build/secure-build/internal/rpmdbtest"
)

// The tests in this file build root filesystems the way a hostile image
// would, and check the promises of the issue's "Safety with hostile root
// filesystems": symlinks resolve inside the root, special files are never
// opened, huge and malformed files give a warning naming them while the
// rest is still found, and archives are read with bounds.

// specialFileLimit is how long a catalog of a few files may take before we
// call it hung, e.g. blocked opening a fifo. It is a hang detector, not a
// performance assertion.
const specialFileLimit = 20 * time.Second

// sentinelPackage is a package every hostile root also holds, to prove the
// scan went on past the hostile file.
const sentinelPURL = "pkg:npm/sentinel@1.0.0"

func addSentinel(t *testing.T, root string) {
	t.Helper()
	writeFile(t, root, "srv/node_modules/sentinel/package.json", `{"name": "sentinel", "version": "1.0.0"}`)
}

func TestHostileOSReleaseAbsoluteSymlink(t *testing.T) {
	// /etc/os-release -> /usr/lib/os-release, as on Debian itself. The host
	// is Debian too, so the root's file names a distro the host's cannot.
	root := t.TempDir()
	symlink(t, root, "/usr/lib/os-release", "etc/os-release")
	writeFile(t, root, "usr/lib/os-release", "ID=imageos\nVERSION_ID=7\nVERSION_CODENAME=inside\n")
	writeFile(t, root, "var/lib/dpkg/status", dpkgStatus)
	s := mustCatalog(t, root)
	if s.Distro == nil || s.Distro.ID != "imageos" || s.Distro.VersionID != "7" || s.Distro.VersionCodename != "inside" {
		t.Fatalf("distro = %+v, want the root's own usr/lib/os-release (imageos 7)", s.Distro)
	}
	requirePackage(t, s, "pkg:deb/imageos/libc6@2.36-9?arch=amd64&distro=imageos-7&upstream=glibc%402.36-9")
}

func TestHostileOSReleaseEscapingSymlink(t *testing.T) {
	// A file outside the root, reachable from the root's etc/ by climbing.
	outsideDir := t.TempDir()
	outside := filepath.Join(outsideDir, "os-release")
	writeFile(t, outsideDir, "os-release", "ID=outsideos\nVERSION_ID=666\n")
	climb := strings.Repeat("../", 64) + strings.TrimPrefix(filepath.ToSlash(outside), "/")

	t.Run("nothing inside", func(t *testing.T) {
		root := t.TempDir()
		symlink(t, root, climb, "etc/os-release")
		// Followed on the host, the link reaches the outside file.
		if b, err := os.ReadFile(filepath.Join(root, "etc/os-release")); err != nil || !strings.Contains(string(b), "outsideos") {
			t.Fatalf("test setup: the link does not reach %s on the host: %v", outside, err)
		}
		writeFile(t, root, "var/lib/dpkg/status", dpkgStatus)
		s := mustCatalog(t, root)
		if s.Distro != nil {
			t.Errorf("distro = %+v: read through a link that leaves the root", s.Distro)
		}
		for _, p := range s.Packages {
			if strings.Contains(p.PURL, "outsideos") {
				t.Errorf("%s: distro read from outside the root", p.PURL)
			}
		}
		requirePackage(t, s, "pkg:deb/debian/libc6@2.36-9?arch=amd64&upstream=glibc%402.36-9")
	})

	t.Run("the root's own file", func(t *testing.T) {
		// The same climb, resolved with the root as "/", lands on the root's
		// copy of the outside path.
		root := t.TempDir()
		symlink(t, root, climb, "etc/os-release")
		writeFile(t, root, filepath.ToSlash(outside), "ID=insideos\nVERSION_ID=1\n")
		s := mustCatalog(t, root)
		if s.Distro == nil || s.Distro.ID != "insideos" {
			t.Errorf("distro = %+v, want insideos from the root's own copy", s.Distro)
		}
	})
}

func TestHostileSymlinkLoops(t *testing.T) {
	root := t.TempDir()
	symlink(t, root, "b", "loop/a")
	symlink(t, root, "a", "loop/b")
	symlink(t, root, "self", "loop/self")
	symlink(t, root, "..", "loop/dir/up")         // a directory loop
	symlink(t, root, "/loop/dir", "loop/dir/abs") // another, absolute
	symlink(t, root, "/loop/a", "etc/os-release")
	symlink(t, root, "../loop/dir/up/up/up/b", "usr/lib/os-release")
	writeFile(t, root, "loop/dir/node_modules/x/package.json", `{"name": "x", "version": "1.0.0"}`)
	addSentinel(t, root)

	s, err := catalogWithin(t, root, specialFileLimit)
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	if s.Distro != nil {
		t.Errorf("distro %+v from a looping os-release", s.Distro)
	}
	requireIncomplete(t, s, "/etc/os-release")
	requirePackage(t, s, sentinelPURL)
	// Found once, where it really is; never through dir/up/dir/up/...
	if p := requirePackage(t, s, "pkg:npm/x@1.0.0"); len(p.Locations) != 1 || p.Locations[0] != "/loop/dir/node_modules/x/package.json" {
		t.Errorf("x locations %q: want its one real path", p.Locations)
	}
}

func TestHostileFifo(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", debianOSRelease)
	mkfifo(t, root, "var/lib/dpkg/status")
	mkfifo(t, root, "lib/apk/db/installed")
	mkfifo(t, root, "srv/node_modules/fifo/package.json")
	mkfifo(t, root, "usr/lib/os-release")
	mkfifo(t, root, "opt/app.jar")
	mkfifo(t, root, "usr/local/bin/tool") // an "executable" the Go extractor might want
	if err := os.Chmod(filepath.Join(root, "usr/local/bin/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	addSentinel(t, root)

	s, err := catalogWithin(t, root, specialFileLimit)
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	requirePackage(t, s, sentinelPURL)
	if s.Distro == nil || s.Distro.ID != "debian" {
		t.Errorf("distro %+v, want debian", s.Distro)
	}
	if len(s.Packages) != 1 {
		t.Errorf("packages from fifos: %q", purls(s))
	}
}

func TestHostileFifoOSRelease(t *testing.T) {
	// The distro is read through rootFS, not the walk: a fifo, or a link to
	// one, must not block it.
	for _, link := range []bool{false, true} {
		t.Run(fmt.Sprintf("link=%v", link), func(t *testing.T) {
			root := t.TempDir()
			if link {
				mkfifo(t, root, "run/fifo")
				symlink(t, root, "/run/fifo", "etc/os-release")
			} else {
				mkfifo(t, root, "etc/os-release")
			}
			writeFile(t, root, "var/lib/dpkg/status", dpkgStatus)
			s, err := catalogWithin(t, root, specialFileLimit)
			if err != nil {
				t.Fatalf("Catalog: %v", err)
			}
			if s.Distro != nil {
				t.Errorf("distro %+v from a fifo", s.Distro)
			}
			requireIncomplete(t, s, "/etc/os-release")
			requirePackage(t, s, "pkg:deb/debian/libc6@2.36-9?arch=amd64&upstream=glibc%402.36-9")
		})
	}
}

func mkfifo(t *testing.T, root, name string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatalf("mkfifo %s: %v", name, err)
	}
}

// TestHostileDevices puts device nodes where package records are. /dev/zero
// (1,5) never ends: read as a dpkg status or os-release, it would hang or
// exhaust memory; /dev/urandom (1,9) likewise.
func TestHostileDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making device nodes needs root (mknod); run the tests as root to cover devices")
	}
	root := t.TempDir()
	mknod(t, root, "var/lib/dpkg/status", syscall.S_IFCHR, 1, 5)
	mknod(t, root, "etc/os-release", syscall.S_IFCHR, 1, 9)
	mknod(t, root, "srv/node_modules/dev/package.json", syscall.S_IFCHR, 1, 5)
	mknod(t, root, "usr/lib/python3/dist-packages/dev-1.0.dist-info/METADATA", syscall.S_IFBLK, 7, 0)
	mknod(t, root, "srv/node_modules/sock/package.json", syscall.S_IFSOCK, 0, 0)
	addSentinel(t, root)

	s, err := catalogWithin(t, root, specialFileLimit)
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	requirePackage(t, s, sentinelPURL)
	if len(s.Packages) != 1 {
		t.Errorf("packages from device nodes: %q", purls(s))
	}
	if s.Distro != nil {
		t.Errorf("distro %+v read from a device", s.Distro)
	}
	requireIncomplete(t, s, "/etc/os-release")
	for _, w := range s.Incomplete {
		if strings.Contains(w.Reason, "larger than") {
			t.Errorf("a device was read: %s", w)
		}
	}
}

func mknod(t *testing.T, root, name string, kind uint32, major, minor int) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	dev := major<<8 | minor
	if err := syscall.Mknod(p, kind|0o644, dev); err != nil {
		t.Skipf("mknod %s: %v (a container without CAP_MKNOD?)", name, err)
	}
}

// sparse makes name a sparse file of size bytes, beginning with head.
func sparse(t *testing.T, root, name, head string, size int64) {
	t.Helper()
	writeFile(t, root, name, head)
	if err := os.Truncate(filepath.Join(root, filepath.FromSlash(name)), size); err != nil {
		t.Fatal(err)
	}
}

// TestHostileHugeFiles: a metadata file over maxMetadataFileSize is not
// read; a warning names it and everything else is found.
func TestHostileHugeFiles(t *testing.T) {
	const mib = 1 << 20
	huge := []struct {
		name, head string
		size       int64
	}{
		{"srv/node_modules/huge/package.json", `{"name": "huge", "version": "1.0.0"}`, 100 * mib},
		// Beyond osv-scalibr's own 100 MiB limit, which skips files silently.
		{"srv/node_modules/huger/package.json", `{"name": "huger", "version": "1.0.0"}`, 200 * mib},
		{"var/lib/dpkg/status", "Package: huge\nStatus: install ok installed\nVersion: 1\n\n", 200 * mib},
		{"lib/apk/db/installed", "P:huge\nV:1\n\n", 100 * mib},
		{"usr/lib/python3/dist-packages/huge-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: huge\nVersion: 1.0\n\n", 150 * mib},
		{"srv/app/app.deps.json", `{"libraries": {"Huge/1.0.0": {"type": "package"}}}`, 100 * mib},
		{"srv/app/vendor/composer/installed.json", `[{"name": "huge/huge", "version": "1.0.0"}]`, 100 * mib},
		{"usr/share/gems/specifications/huge-1.0.gemspec", "Gem::Specification.new do |s|\n  s.name = \"huge\"\n  s.version = \"1.0\"\nend\n", 100 * mib},
		{"srv/lock/package-lock.json", `{"lockfileVersion": 3, "packages": {"node_modules/huge": {"version": "1.0.0"}}}`, 100 * mib},
	}
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", debianOSRelease)
	writeFile(t, root, "srv/lock/node_modules/.keep", "")
	for _, h := range huge {
		sparse(t, root, h.name, h.head, h.size)
	}
	addSentinel(t, root)
	writeFile(t, root, "var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n")
	writeFile(t, root, "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense: MIT\n\n")

	s := mustCatalog(t, root)
	for _, h := range huge {
		w := requireIncomplete(t, s, "/"+h.name)
		if !strings.Contains(w, "larger than") {
			t.Errorf("warning for %s does not say why: %s", h.name, w)
		}
	}
	for _, p := range s.Packages {
		if strings.Contains(p.Name, "huge") {
			t.Errorf("package %s read from a file over the limit", p.PURL)
		}
	}
	requirePackage(t, s, sentinelPURL)
	requirePackage(t, s, "pkg:pypi/six@1.16.0")
	requirePackage(t, s, "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12&upstream=tzdata%402024a-0%2Bdeb12u1")
}

// TestHostileMalformed: a malformed record gives a warning naming its file;
// what was read before it is kept, and every other file is still read.
func TestHostileMalformed(t *testing.T) {
	root := debianRoot(t)
	// A status file with a garbage line after two good records.
	writeFile(t, root, "var/lib/dpkg/status", strings.Replace(dpkgStatus, "Package: libssl3\n", "this line is not a header\nPackage: libssl3\n", 1))
	writeFiles(t, root, map[string]string{
		"usr/lib/python3/dist-packages/broken-1.0.dist-info/METADATA": "this is not a metadata file\n\x00\x01\x02",
		"usr/lib/python3/dist-packages/noversion.dist-info/METADATA":  "Metadata-Version: 2.1\nName: noversion\n\n",
		"srv/node_modules/broken/package.json":                        `{"name": "broken", "version": `,
		"srv/vendor/composer/installed.json":                          `{"packages": [{"name": "good/one", "version": "1.0.0"}, {"name": "no-vendor", "version": "1.0.0"}]}`,
		"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense: MIT\n\n",
	})
	writeBytes(t, root, "opt/broken.jar", []byte("PK\x03\x04 this is not a zip archive, though it begins like one: "+strings.Repeat("x", 100)), 0o644)
	addSentinel(t, root)

	s := mustCatalog(t, root)
	for _, f := range []string{
		"/var/lib/dpkg/status",
		"/usr/lib/python3/dist-packages/broken-1.0.dist-info/METADATA",
		"/usr/lib/python3/dist-packages/noversion.dist-info/METADATA",
		"/srv/node_modules/broken/package.json",
		"/srv/vendor/composer/installed.json",
		"/opt/broken.jar",
	} {
		requireIncomplete(t, s, f)
	}
	// The dpkg records before the bad line are kept.
	requirePackage(t, s, "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc%402.36-9")
	requirePackage(t, s, "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12&upstream=base-files%4012.4%2Bdeb12u5")
	// The composer records before the bad one are kept.
	requirePackage(t, s, "pkg:composer/good/one@1.0.0")
	requirePackage(t, s, "pkg:pypi/six@1.16.0")
	requirePackage(t, s, sentinelPURL)
}

// TestHostileMalformedStatusD: a distroless status.d file that holds no
// readable record gives a warning naming it; its siblings are read.
func TestHostileMalformedStatusD(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"etc/os-release":                       debianOSRelease,
		"var/lib/dpkg/status.d/broken":         "Package: broken\nVersion: 1\nthis is not a header\n",
		"var/lib/dpkg/status.d/noversion":      "Package: noversion\nArchitecture: all\n",
		"var/lib/dpkg/status.d/empty":          "",
		"var/lib/dpkg/status.d/tzdata":         "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
		"var/lib/dpkg/status.d/tzdata.md5sums": "d41d8cd98f00b204e9800998ecf8427e  usr/share/zoneinfo/UTC\n",
	})
	s := mustCatalog(t, root)
	for _, f := range []string{"broken", "noversion", "empty"} {
		requireIncomplete(t, s, "/var/lib/dpkg/status.d/"+f)
	}
	if w := incompleteAbout(s, "tzdata"); w != "" {
		t.Errorf("warning about a good file: %s", w)
	}
	if got := purls(s); len(got) != 1 || got[0] != "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12&upstream=tzdata%402024a-0%2Bdeb12u1" {
		t.Errorf("packages %q, want tzdata alone", got)
	}
}

// TestHostileTruncatedStatus: a status file cut short in the middle of a
// record. The complete records are listed and the scan goes on.
func TestHostileTruncatedStatus(t *testing.T) {
	root := debianRoot(t)
	cut := strings.Index(dpkgStatus, "Version: 3.0.11")
	writeFile(t, root, "var/lib/dpkg/status", dpkgStatus[:cut+len("Versi")])
	addSentinel(t, root)
	s := mustCatalog(t, root)
	requirePackage(t, s, "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc%402.36-9")
	requirePackage(t, s, "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12&upstream=base-files%4012.4%2Bdeb12u5")
	requirePackage(t, s, sentinelPURL)
	if got := findByName(s, "deb", "libssl3"); len(got) != 0 {
		t.Errorf("libssl3 from a record cut before its version: %+v", got)
	}
}

// TestHostileSymlinkedDirOutside: a directory symlink leading out of the
// root is never walked, whether absolute or climbing; nor is one leading
// elsewhere inside the root (its target is walked where it really is).
func TestHostileSymlinkedDirOutside(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, outside, "node_modules/secret/package.json", `{"name": "secret", "version": "6.6.6"}`)
	writeFile(t, outside, "var/lib/dpkg/status", "Package: secret\nStatus: install ok installed\nVersion: 6.6.6\n\n")

	root := t.TempDir()
	symlink(t, root, outside, "srv/abs")
	symlink(t, root, strings.Repeat("../", 32)+strings.TrimPrefix(filepath.ToSlash(outside), "/"), "srv/rel")
	symlink(t, root, outside+"/var", "var")
	symlink(t, root, "/srv/real", "srv/alias")
	writeFile(t, root, "srv/real/node_modules/inside/package.json", `{"name": "inside", "version": "1.0.0"}`)

	s := mustCatalog(t, root)
	for _, p := range s.Packages {
		if p.Name == "secret" {
			t.Errorf("%s found through a link out of the root at %q", p.PURL, p.Locations)
		}
	}
	p := requirePackage(t, s, "pkg:npm/inside@1.0.0")
	if len(p.Locations) != 1 || p.Locations[0] != "/srv/real/node_modules/inside/package.json" {
		t.Errorf("inside locations %q, want only its real path", p.Locations)
	}
}

// nestedJar returns a jar nested depth deep: level i holds the pom of
// org.example:level<i> and the jar of level i+1.
func nestedJar(t *testing.T, depth int) []byte {
	t.Helper()
	var inner []byte
	for level := depth; level >= 1; level-- {
		entries := []zipEntry{pomProperties("org.example", fmt.Sprintf("level%d", level), "1.0.0")}
		if inner != nil {
			entries = append(entries, zipEntry{fmt.Sprintf("lib/level%d.jar", level+1), inner})
		}
		inner = zipFiles(t, entries...)
	}
	return inner
}

func TestHostileNestedJars(t *testing.T) {
	t.Run("within the bound", func(t *testing.T) {
		root := t.TempDir()
		writeBytes(t, root, "opt/app/app.jar", nestedJar(t, maxArchiveDepth), 0o644)
		s := mustCatalog(t, root)
		for level := 1; level <= maxArchiveDepth; level++ {
			p := requirePackage(t, s, fmt.Sprintf("pkg:maven/org.example/level%d@1.0.0", level))
			if len(p.Locations) != 1 || p.Locations[0] != "/opt/app/app.jar" {
				t.Errorf("level%d locations %q, want [/opt/app/app.jar]", level, p.Locations)
			}
		}
		if len(s.Incomplete) != 0 {
			t.Errorf("incomplete: %q", s.Incomplete)
		}
	})
	t.Run("deeper than the bound", func(t *testing.T) {
		root := t.TempDir()
		writeBytes(t, root, "opt/app/deep.jar", nestedJar(t, maxArchiveDepth+4), 0o644)
		addSentinel(t, root)
		s := mustCatalog(t, root)
		w := requireIncomplete(t, s, "/opt/app/deep.jar")
		if !strings.Contains(w, "depth") {
			t.Errorf("warning does not say the depth bound was hit: %s", w)
		}
		requirePackage(t, s, sentinelPURL)
		requirePackage(t, s, "pkg:maven/org.example/level1@1.0.0")
		for level := maxArchiveDepth + 1; level <= maxArchiveDepth+4; level++ {
			if got := findByName(s, "maven", fmt.Sprintf("org.example:level%d", level)); len(got) != 0 {
				t.Errorf("level%d read beyond maxArchiveDepth", level)
			}
		}
	})
}

// zipBomb is a zip whose entries are deflate bombs.
func zipBomb(t *testing.T, bombs ...hostiletest.Bomb) []byte {
	t.Helper()
	b, err := hostiletest.ZipBomb(bombs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileZipBombs: small jars that inflate to gigabytes end promptly
// with a warning naming them, without reading the inflated data.
func TestHostileZipBombs(t *testing.T) {
	// Lines of 1 KiB, in chunks of 1 MiB.
	continued := strings.Repeat(" "+strings.Repeat("a", 1022)+"\n", 1024)
	comments := strings.Repeat("#"+strings.Repeat("x", 1022)+"\n", 1024)
	zeros := strings.Repeat("\x00", 1<<20)
	cases := map[string][]byte{
		// A manifest of 2 GiB of continuation lines: a MIME header reader
		// holds it in memory whole.
		"opt/manifest.jar": zipBomb(t, hostiletest.Bomb{Name: "META-INF/MANIFEST.MF", Head: "Manifest-Version: 1.0\nImplementation-Title: bomb\n", Chunk: continued, Count: 2048}),
		// Many pom.properties, 64 MiB each: 2 GiB to inflate.
		"opt/poms.jar": zipBomb(t, func() []hostiletest.Bomb {
			var b []hostiletest.Bomb
			for i := range 32 {
				b = append(b, hostiletest.Bomb{Name: fmt.Sprintf("META-INF/maven/org.example/p%d/pom.properties", i), Chunk: comments, Count: 64})
			}
			return b
		}()...),
		// A nested jar of 900 MiB, under maxArchiveBytes: read into memory
		// whole to be opened.
		"opt/nested.war": zipBomb(t, hostiletest.Bomb{Name: "WEB-INF/lib/bomb.jar", Chunk: zeros, Count: 900}),
		// A nested jar of 4 GiB, over maxArchiveBytes.
		"opt/nested4g.war": zipBomb(t, hostiletest.Bomb{Name: "WEB-INF/lib/bomb.jar", Chunk: zeros, Count: 4096}),
	}
	root := t.TempDir()
	for name, data := range cases {
		if len(data) > 8<<20 {
			t.Fatalf("test setup: %s is %d bytes, not a small bomb", name, len(data))
		}
		writeBytes(t, root, name, data, 0o644)
	}
	writeBytes(t, root, "opt/lib/commons-lang3-3.12.0.jar", zipFiles(t, pomProperties("org.apache.commons", "commons-lang3", "3.12.0")), 0o644)
	addSentinel(t, root)

	s := mustCatalog(t, root)
	for name := range cases {
		if w := requireIncomplete(t, s, "/"+name); !strings.Contains(w, "inflates") {
			t.Errorf("warning for %s does not say it inflates too much: %s", name, w)
		}
	}
	requirePackage(t, s, sentinelPURL)
	requirePackage(t, s, "pkg:maven/org.apache.commons/commons-lang3@3.12.0")
}

// allocatedBy returns the bytes the Go heap allocated while f ran, freed or
// not: a bound on it is a bound on the memory f could have held.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// boundedAlloc is the heap a hostile root may make the catalog allocate in
// these tests: generous, and far below what the bombs declare.
const boundedAlloc = 256 << 20

// TestHostileNestedJarDeclaredSize: a nested jar's declared size is checked
// against the bytes the file holds and never allocated. Before, sixteen
// copies of a 300-byte jar made the gate allocate 16 GiB.
func TestHostileNestedJarDeclaredSize(t *testing.T) {
	jar, err := hostiletest.LyingNestedJar()
	if err != nil {
		t.Fatal(err)
	}
	if len(jar) > 1024 {
		t.Fatalf("test setup: the jar is %d bytes, not a small bomb", len(jar))
	}
	root := t.TempDir()
	const copies = 16
	for i := range copies {
		writeBytes(t, root, fmt.Sprintf("opt/lib/bomb%02d.jar", i), jar, 0o644)
	}
	addSentinel(t, root)
	var s *SBOM
	if n := allocatedBy(func() { s = mustCatalog(t, root) }); n > boundedAlloc {
		t.Errorf("the catalog allocated %d MiB for %d jars of %d bytes", n>>20, copies, len(jar))
	}
	for i := range copies {
		w := requireIncomplete(t, s, fmt.Sprintf("/opt/lib/bomb%02d.jar", i))
		if !strings.Contains(w, "lib/inner.jar/lib/bomb.jar") || !strings.Contains(w, "more than") {
			t.Errorf("the incompleteness does not name the nested jar and the bound: %s", w)
		}
	}
	requirePackage(t, s, sentinelPURL)
}

// pythonMetadata is the head of a METADATA or PKG-INFO file.
func pythonMetadata(name, version string) string {
	return "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nLicense: MIT\n"
}

// TestHostileZippedPython: zipped eggs and wheels are read with bounds on
// their entries and on what those inflate to. Before, an egg of a few
// hundred KiB made osv-scalibr inflate gigabytes of continuation lines, for
// minutes, and a bomb gave no error at all.
func TestHostileZippedPython(t *testing.T) {
	continued := strings.Repeat(" "+strings.Repeat("a", 1022)+"\n", 1024) // 1 MiB a chunk
	cases := map[string][]byte{
		// One METADATA of 2 GiB of continuation lines.
		"usr/lib/python3/dist-packages/bomb-1.0-py3-none-any.whl": zipBomb(t, hostiletest.Bomb{Name: "bomb-1.0.dist-info/METADATA", Head: pythonMetadata("bomb", "1.0"), Chunk: continued, Count: 2048}),
		// Many PKG-INFO files, each under the bound for one entry, that
		// together inflate far beyond what the egg could hold.
		"usr/lib/python3/dist-packages/many-1.0-py3.11.egg": zipBomb(t, func() []hostiletest.Bomb {
			var b []hostiletest.Bomb
			for i := range 64 {
				b = append(b, hostiletest.Bomb{Name: fmt.Sprintf("d%03d/EGG-INFO/PKG-INFO", i), Head: pythonMetadata(fmt.Sprintf("many%03d", i), "1.0"), Chunk: continued, Count: 3})
			}
			return b
		}()...),
	}
	root := t.TempDir()
	for name, data := range cases {
		if len(data) > 8<<20 {
			t.Fatalf("test setup: %s is %d bytes, not a small bomb", name, len(data))
		}
		writeBytes(t, root, name, data, 0o644)
	}
	writeBytes(t, root, "usr/lib/python3/dist-packages/legit-2.0-py3-none-any.whl", zipFiles(t,
		zipEntry{"legit/__init__.py", []byte("")},
		zipEntry{"legit-2.0.dist-info/METADATA", []byte(pythonMetadata("legit", "2.0") + "\nA description.\n")},
	), 0o644)
	addSentinel(t, root)

	// The bound is on the bytes allocated, freed or not: each metadata entry
	// read is copied a few times (inflated, handed on, split into lines).
	var s *SBOM
	start := time.Now()
	if n := allocatedBy(func() { s = mustCatalog(t, root) }); n > 4*boundedAlloc {
		t.Errorf("the catalog allocated %d MiB", n>>20)
	}
	t.Logf("catalog took %v", time.Since(start))
	for name := range cases {
		if w := requireIncomplete(t, s, "/"+name); !strings.Contains(w, "more than") {
			t.Errorf("the incompleteness for %s does not name the bound: %s", name, w)
		}
	}
	requirePackage(t, s, sentinelPURL)
	p := requirePackage(t, s, "pkg:pypi/legit@2.0")
	if want := []string{"/usr/lib/python3/dist-packages/legit-2.0-py3-none-any.whl"}; !slices.Equal(p.Locations, want) {
		t.Errorf("legit locations %q, want %q", p.Locations, want)
	}
}

// elfWithSection is a small 64-bit ELF executable holding one section of
// data under name.
func elfWithSection(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	b, err := hostiletest.ELFWithSection(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileCargoAuditableBomb: a cargo-auditable section is inflated with
// a bound before go-rustaudit reads it. Before, a 1 MB ELF file whose
// .dep-v0 section inflated to 1 GiB made it allocate gigabytes.
func TestHostileCargoAuditableBomb(t *testing.T) {
	bomb, err := hostiletest.DeflateRepeat([]byte(`{"packages":[{"name":"x","version":"1`), make([]byte, 1<<20), 1024)
	if err != nil {
		t.Fatal(err)
	}
	json := []byte(`{"packages":[{"name":"serde","version":"1.0.200","source":"crates.io","kind":"runtime","root":false},{"name":"app","version":"0.1.0","source":"local","root":true}]}`)
	var legit bytes.Buffer
	zw := zlib.NewWriter(&legit)
	zw.Write(json)
	zw.Close()

	root := t.TempDir()
	writeBytes(t, root, "usr/local/bin/bomb", elfWithSection(t, ".dep-v0", hostiletest.ZlibStream(bomb.Data, 0)), 0o755)
	writeBytes(t, root, "usr/local/bin/app", elfWithSection(t, ".dep-v0", legit.Bytes()), 0o755)
	// WebAssembly modules of a few bytes whose .dep-v0 section claims 256 MiB:
	// go-rustaudit allocates the claim before it reads.
	wasm := append([]byte("\x00asm\x01\x00\x00\x00\x00\xff\xff\xff\x7f\x07.dep-v0"), 0x78, 0xda)
	for i := range 8 {
		writeBytes(t, root, fmt.Sprintf("usr/local/bin/wasm%d", i), wasm, 0o755)
	}
	addSentinel(t, root)

	var s *SBOM
	if n := allocatedBy(func() { s = mustCatalog(t, root) }); n > boundedAlloc {
		t.Errorf("the catalog allocated %d MiB", n>>20)
	}
	if w := requireIncomplete(t, s, "/usr/local/bin/bomb"); !strings.Contains(w, "more than") {
		t.Errorf("the incompleteness does not name the bound: %s", w)
	}
	requirePackage(t, s, sentinelPURL)
	requirePackage(t, s, "pkg:cargo/serde@1.0.200")
	if w := incompleteAbout(s, "/usr/local/bin/app"); w != "" {
		t.Errorf("the legitimate binary is incomplete: %s", w)
	}
}

// TestGoBinaryRenamedBuildInfoSection: debug/buildinfo finds the build info
// of a Go binary whose .go.buildinfo section is renamed (or whose section
// headers are gone) in its first writable segment, so the catalog must too.
func TestGoBinaryRenamedBuildInfoSection(t *testing.T) {
	bin, _ := buildGoBinary(t)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	renamed := bytes.Replace(b, []byte("\x00.go.buildinfo\x00"), []byte("\x00.go.buildinfx\x00"), 1)
	if bytes.Equal(renamed, b) {
		t.Fatal("test setup: no section named .go.buildinfo to rename")
	}
	root := t.TempDir()
	writeBytes(t, root, "usr/local/bin/hello", renamed, 0o755)
	s := mustCatalog(t, root)
	p := requirePackage(t, s, "pkg:golang/golang.org/x/text@"+xTextVersion)
	if want := []string{"/usr/local/bin/hello"}; !slices.Equal(p.Locations, want) {
		t.Errorf("locations %q, want %q", p.Locations, want)
	}
}

// rpmField sets field (0 tag, 1 type, 2 offset, 3 count) of index entry i
// of an rpm header.
func rpmField(h []byte, i, field int, v uint32) {
	binary.BigEndian.PutUint32(h[8+16*i+4*field:], v)
}

// rpmSQLite writes an sqlite rpm database of blobs (WAL mode) under dir.
func rpmSQLite(t *testing.T, dir string, blobs ...[]byte) {
	t.Helper()
	if err := rpmdbtest.WriteWALBlobs(dir, blobs...); err != nil {
		t.Fatal(err)
	}
}

// rpmSQLiteSchema writes an sqlite database at path made by stmts.
func rpmSQLiteSchema(t *testing.T, path string, stmts ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestHostileRPMDatabases: an rpm database is bounded by the bytes it holds,
// whatever its headers, blobs and pages declare. Before, go-rpmdb allocated
// 32 GiB for a header declaring 0x7fffffff index entries (a fatal "out of
// memory"), 4 GiB for an NDB blob declaring it, appended pages forever on a
// looping Berkeley DB overflow chain, panicked on its reader goroutine (a
// crash no recover reaches) at an offset beyond a page or a region of no
// entries, spun for minutes on a string count of 0xffffffff, and read a
// view or a computed column of a gigabyte.
func TestHostileRPMDatabases(t *testing.T) {
	good := rpmdbtest.Package{Name: "openssl-libs", Version: "3.0.7", Release: "24.el9", Arch: "x86_64"}
	bad := rpmdbtest.Package{Name: "bad", Version: "1", Release: "1", Arch: "x86_64"}
	hugeIL := rpmdbtest.WithIndexLength(rpmdbtest.Header(bad), 0x7fffffff)
	noRegionEntries := rpmdbtest.Header(bad)
	{
		il := int(binary.BigEndian.Uint32(noRegionEntries))
		off := int(binary.BigEndian.Uint32(noRegionEntries[8+8:]))
		binary.BigEndian.PutUint32(noRegionEntries[8+16*il+off+8:], 0)
	}
	endlessStrings := rpmdbtest.Header(bad)
	for i := 1; i < int(binary.BigEndian.Uint32(endlessStrings)); i++ {
		rpmField(endlessStrings, i, 1, 8) // a string array
		rpmField(endlessStrings, i, 3, 0xffffffff)
	}
	bdbLoop := rpmdbtest.BDB(rpmdbtest.Header(good), rpmdbtest.Header(bad))
	{
		// The last overflow page points back at itself.
		last := len(bdbLoop)/rpmdbtest.BDBPageSize - 1
		binary.LittleEndian.PutUint32(bdbLoop[last*rpmdbtest.BDBPageSize+16:], uint32(last))
	}
	bdbBeyondPage := rpmdbtest.BDB(rpmdbtest.Header(good), rpmdbtest.Header(bad))
	binary.LittleEndian.PutUint16(bdbBeyondPage[rpmdbtest.BDBPageSize+26+6:], 0xfff0)
	ndbHugeBlob := rpmdbtest.NDB(rpmdbtest.Header(bad))
	binary.LittleEndian.PutUint32(ndbHugeBlob[4096+12:], 0xffffffff)

	cases := []struct {
		name, file string
		write      func(t *testing.T, root string)
		reason     []string
	}{
		{"sqlite index length", "var/lib/rpm/rpmdb.sqlite", func(t *testing.T, root string) {
			rpmSQLite(t, filepath.Join(root, "var/lib/rpm"), rpmdbtest.Header(good), hugeIL)
		}, []string{"package 2", "2147483647 index entries", "65535"}},
		{"bdb index length", "var/lib/rpm/Packages", func(t *testing.T, root string) {
			writeBytes(t, root, "var/lib/rpm/Packages", rpmdbtest.BDB(rpmdbtest.Header(good), hugeIL), 0o644)
		}, []string{"package 2", "2147483647 index entries"}},
		{"ndb index length", "var/lib/rpm/Packages.db", func(t *testing.T, root string) {
			writeBytes(t, root, "var/lib/rpm/Packages.db", rpmdbtest.NDB(rpmdbtest.Header(good), hugeIL), 0o644)
		}, []string{"package 2", "2147483647 index entries"}},
		{"ndb blob length", "var/lib/rpm/Packages.db", func(t *testing.T, root string) {
			writeBytes(t, root, "var/lib/rpm/Packages.db", ndbHugeBlob, 0o644)
		}, []string{"blob of 4294967295 bytes"}},
		{"bdb overflow loop", "var/lib/rpm/Packages", func(t *testing.T, root string) {
			writeBytes(t, root, "var/lib/rpm/Packages", bdbLoop, 0o644)
		}, []string{"more than the", "bytes the database holds"}},
		{"bdb entry beyond its page", "var/lib/rpm/Packages", func(t *testing.T, root string) {
			writeBytes(t, root, "var/lib/rpm/Packages", bdbBeyondPage, 0o644)
		}, []string{"at 65520, beyond its 4096 bytes"}},
		{"region of no entries", "var/lib/rpm/rpmdb.sqlite", func(t *testing.T, root string) {
			rpmSQLite(t, filepath.Join(root, "var/lib/rpm"), noRegionEntries)
		}, []string{"package 1", "region"}},
		{"endless string count", "var/lib/rpm/rpmdb.sqlite", func(t *testing.T, root string) {
			rpmSQLite(t, filepath.Join(root, "var/lib/rpm"), endlessStrings)
		}, []string{"package 1", "4294967295 elements of type 8"}},
		{"sqlite view", "var/lib/rpm/rpmdb.sqlite", func(t *testing.T, root string) {
			rpmSQLiteSchema(t, filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"),
				"CREATE VIEW Packages AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n) SELECT i AS hnum, zeroblob(900000000) AS blob FROM n")
		}, []string{"is a view, not a table"}},
		{"sqlite computed column", "var/lib/rpm/rpmdb.sqlite", func(t *testing.T, root string) {
			rpmSQLiteSchema(t, filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"),
				"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, n INTEGER, blob BLOB AS (zeroblob(900000000)))",
				"INSERT INTO Packages (n) VALUES (1), (2), (3)")
		}, []string{"too big"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, root, "etc/os-release", "ID=rocky\nVERSION_ID=9.3\n")
			c.write(t, root)
			// Another rpm database, good, is still read.
			writeBytes(t, root, "usr/share/rpm/Packages.db", rpmdbtest.NDB(rpmdbtest.Header(rpmdbtest.Package{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"})), 0o644)
			addSentinel(t, root)
			var s *SBOM
			var err error
			if n := allocatedBy(func() { s, err = catalogWithin(t, root, specialFileLimit) }); n > boundedAlloc {
				t.Errorf("the catalog allocated %d MiB", n>>20)
			}
			if err != nil {
				t.Fatalf("Catalog: %v", err)
			}
			w := requireIncomplete(t, s, "/"+c.file)
			t.Log(w)
			for _, r := range c.reason {
				if !strings.Contains(w, r) {
					t.Errorf("the incompleteness does not say %q: %s", r, w)
				}
			}
			if strings.Contains(w, os.TempDir()+"/secure-build-rpmdb-") {
				t.Errorf("the incompleteness names the private copy: %s", w)
			}
			requirePackage(t, s, sentinelPURL)
			if len(findByName(s, "rpm", "zlib")) != 1 {
				t.Errorf("the good rpm database was not read: %q", purls(s))
			}
			if len(findByName(s, "rpm", "bad")) != 0 {
				t.Errorf("a package of the hostile database was listed: %q", purls(s))
			}
		})
	}
}

// TestHostileRPMTagType: a header whose license is a string array, which
// go-rpmdb imports and then refuses, is refused before go-rpmdb reads the
// database. Before, go-rpmdb returned at the refusal and left its reader
// goroutine blocked for good, holding the database open and its next header.
func TestHostileRPMTagType(t *testing.T) {
	good := rpmdbtest.Header(rpmdbtest.Package{Name: "openssl-libs", Version: "3.0.7", Release: "24.el9", Arch: "x86_64"})
	bad := rpmdbtest.Header(rpmdbtest.Package{Name: "bad", Version: "1", Release: "1", Arch: "x86_64"})
	for i := 1; i < int(binary.BigEndian.Uint32(bad)); i++ {
		if binary.BigEndian.Uint32(bad[8+16*i:]) == 1014 {
			rpmField(bad, i, 1, 8)
		}
	}
	root := t.TempDir()
	writeFile(t, root, "etc/os-release", "ID=rocky\nVERSION_ID=9.3\n")
	for _, dir := range []string{"var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"} {
		rpmSQLite(t, filepath.Join(root, dir), bad, good)
	}
	addSentinel(t, root)
	before := runtime.NumGoroutine()
	s := mustCatalog(t, root)
	for _, dir := range []string{"var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"} {
		if w := requireIncomplete(t, s, "/"+dir+"/rpmdb.sqlite"); !strings.Contains(w, "tag 1014, has type 8") {
			t.Errorf("the incompleteness does not name the tag and its type: %s", w)
		}
	}
	requirePackage(t, s, sentinelPURL)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left running after the catalog (%d before):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
