package sbom

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFiles writes files (slash paths relative to root) with their contents,
// making parent folders.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		writeFile(t, root, name, content)
	}
}

func writeFile(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeBytes(t *testing.T, root, name string, content []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, mode); err != nil {
		t.Fatal(err)
	}
}

// symlink makes name (relative to root) a symlink to target, as written.
func symlink(t *testing.T, root, target, name string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// catalogTimeout bounds a catalog in tests: a scan that hangs (on a fifo, a
// loop) fails the test instead of hanging it.
const catalogTimeout = 60 * time.Second

// mustCatalog catalogs root and fails the test on an error or a hang.
func mustCatalog(t *testing.T, root string) *SBOM {
	t.Helper()
	s, err := catalogWithin(t, root, catalogTimeout)
	if err != nil {
		t.Fatalf("Catalog(%s): %v", root, err)
	}
	return s
}

// catalogWithin runs Catalog on its own goroutine and fails the test if it
// has not returned within limit.
func catalogWithin(t *testing.T, root string, limit time.Duration) (*SBOM, error) {
	t.Helper()
	type result struct {
		s   *SBOM
		err error
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		s, err := Catalog(ctx, root, "test-root")
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(limit):
		cancel()
		t.Fatalf("Catalog(%s) did not return within %s", root, limit)
		return nil, nil
	}
}

// byPURL indexes the packages of s by purl.
func byPURL(s *SBOM) map[string]Package {
	m := map[string]Package{}
	for _, p := range s.Packages {
		m[p.PURL] = p
	}
	return m
}

// purls lists the purls of s, sorted.
func purls(s *SBOM) []string {
	var out []string
	for _, p := range s.Packages {
		out = append(out, p.PURL)
	}
	slices.Sort(out)
	return out
}

// requirePackage fails unless s has a package with purl, and returns it.
func requirePackage(t *testing.T, s *SBOM, purl string) Package {
	t.Helper()
	p, ok := byPURL(s)[purl]
	if !ok {
		t.Fatalf("no package %s; have:\n  %s\nincomplete: %q", purl, strings.Join(purls(s), "\n  "), s.Incomplete)
	}
	return p
}

// findByName returns the packages of s of type typ named name.
func findByName(s *SBOM, typ, name string) []Package {
	var out []Package
	for _, p := range s.Packages {
		if p.Type == typ && p.Name == name {
			out = append(out, p)
		}
	}
	return out
}

// incompleteAbout returns the first incompleteness naming file, as text, or "".
func incompleteAbout(s *SBOM, file string) string {
	for _, w := range s.Incomplete {
		if strings.Contains(w.String(), file) {
			return w.String()
		}
	}
	return ""
}

// requireIncomplete fails unless an incompleteness names file.
func requireIncomplete(t *testing.T, s *SBOM, file string) string {
	t.Helper()
	w := incompleteAbout(s, file)
	if w == "" {
		t.Fatalf("no incompleteness names %s; incomplete: %q", file, s.Incomplete)
	}
	return w
}

const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`

// dpkgStatus is a small dpkg status file: libc6 built from glibc, base-files
// with no Source field, a binNMU (libssl3: binary and source versions
// differ) and a package that was removed (not installed).
const dpkgStatus = `Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12988
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc (2.36-9)
Version: 2.36-9
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2+b1
Description: Secure Sockets Layer toolkit - shared libraries

Package: nano
Status: deinstall ok config-files
Priority: optional
Architecture: amd64
Version: 7.2-1
Description: small, friendly text editor
`

// debianRoot writes a minimal Debian root into a new temporary folder.
func debianRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"etc/os-release":      debianOSRelease,
		"var/lib/dpkg/status": dpkgStatus,
	})
	return root
}
