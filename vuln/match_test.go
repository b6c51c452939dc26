package vuln

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/secure-build/secure-build/sbom"
)

// testDB imports testdata/osv into a fresh database.
func testDB(t *testing.T) *DB {
	t.Helper()
	dir := t.TempDir()
	var sources []Source
	for _, eco := range []string{"Debian", "Alpine", "Go", "npm", "PyPI", "Maven", "Ubuntu", "RubyGems", "crates.io", "Packagist", "NuGet", "Rocky Linux"} {
		sources = append(sources, Source{Path: filepath.Join("testdata", "osv", eco)})
	}
	if _, err := Import(context.Background(), dir, sources); err != nil {
		t.Fatalf("import testdata: %v", err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pkg(name, version, purl string) sbom.Package {
	return sbom.Package{Name: name, Version: version, PURL: purl, Locations: []string{"/somewhere"}}
}

func matchOne(t *testing.T, db *DB, p sbom.Package) []Finding {
	t.Helper()
	findings, warnings, err := db.Match([]sbom.Package{p})
	if err != nil {
		t.Fatalf("match %s: %v", p.PURL, err)
	}
	if len(warnings) > 0 {
		t.Fatalf("match %s: warnings %v", p.PURL, warnings)
	}
	return findings
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	slices.Sort(out)
	return out
}

func TestMatchDebianBySourcePackage(t *testing.T) {
	db := testDB(t)
	libc6 := pkg("libc6", "2.36-9", "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc%402.36-9")
	got := matchOne(t, db, libc6)
	want := []string{"DEBIAN-CVE-2023-4911", "DEBIAN-CVE-2099-0002", "DSA-5514-1"}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("libc6 2.36-9: findings %v, want %v", ids(got), want)
	}
	for _, f := range got {
		switch f.ID {
		case "DEBIAN-CVE-2023-4911":
			// The upstream CVE stays on the finding and does not fold it
			// with the DSA that names the same CVE.
			if !slices.Equal(f.Upstream, []string{"CVE-2023-4911"}) || f.FixedVersion != "2.36-9+deb12u3" {
				t.Errorf("%s: upstream %v fixed %q", f.ID, f.Upstream, f.FixedVersion)
			}
			// The entry's own urgency wins over the record's CVSS.
			if f.Severity != High || f.SeveritySource != "Debian urgency" {
				t.Errorf("%s: severity %s from %q", f.ID, f.Severity, f.SeveritySource)
			}
			if f.Package.MatchName != "glibc" || f.Package.Ecosystem != "Debian:12" || f.Package.Name != "libc6" {
				t.Errorf("%s: matched %+v", f.ID, f.Package)
			}
		case "DSA-5514-1":
			if len(f.Upstream) != 3 || f.Severity != Unknown {
				t.Errorf("%s: upstream %v severity %s", f.ID, f.Upstream, f.Severity)
			}
		case "DEBIAN-CVE-2099-0002":
			if f.Fixable() {
				t.Errorf("%s: fixable %q, the record has no fix", f.ID, f.FixedVersion)
			}
		}
	}

	// A backported fix: the binary package's source is at the fixed
	// version, so only the unfixed record matches.
	fixed := pkg("libc6", "2.36-9+deb12u3", "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12&upstream=glibc%402.36-9%2Bdeb12u3")
	if got := ids(matchOne(t, db, fixed)); !slices.Equal(got, []string{"DEBIAN-CVE-2099-0002"}) {
		t.Errorf("fixed libc6: findings %v", got)
	}
	// A binNMU: the binary version differs, the source version decides.
	binNMU := pkg("libc6", "2.36-9+deb12u3+b1", "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3%2Bb1?arch=amd64&distro=debian-12&upstream=glibc%402.36-9%2Bdeb12u3")
	if got := ids(matchOne(t, db, binNMU)); !slices.Equal(got, []string{"DEBIAN-CVE-2099-0002"}) {
		t.Errorf("binNMU libc6: findings %v", got)
	}
	// Another release's ecosystem: Debian 11 is not Debian 12.
	bullseye := pkg("libc6", "2.31-13", "pkg:deb/debian/libc6@2.31-13?arch=amd64&distro=debian-11&upstream=glibc%402.31-13")
	if got := ids(matchOne(t, db, bullseye)); !slices.Equal(got, []string{"DEBIAN-CVE-2023-4911"}) {
		t.Errorf("bullseye libc6: findings %v", got)
	}
}

func TestMatchDebianVersionOrder(t *testing.T) {
	db := testDB(t)
	cases := []struct {
		name, version string
		affected      bool
	}{
		{"epochpkg", "1:2.2-5", true},
		{"epochpkg", "1:2.3-1", false},
		{"epochpkg", "9.9-1", true}, // no epoch is epoch 0, below 1:2.3-1
		{"epochpkg", "2:0.1-1", false},
		{"tildepkg", "1.0~rc1-1", true},
		{"tildepkg", "1.0~rc2-1", false},
		{"tildepkg", "1.0-1", false}, // ~ sorts before the release
	}
	for _, c := range cases {
		p := pkg(c.name, c.version, "pkg:deb/debian/"+c.name+"@"+c.version+"?distro=debian-12")
		got := matchOne(t, db, p)
		if (len(got) > 0) != c.affected {
			t.Errorf("%s %s: findings %v, want affected=%v", c.name, c.version, ids(got), c.affected)
		}
		if len(got) > 0 && c.name == "epochpkg" && (got[0].FixedVersion != "1:2.3-1" || got[0].Severity != Low) {
			t.Errorf("%s %s: fixed %q severity %s", c.name, c.version, got[0].FixedVersion, got[0].Severity)
		}
	}
}

func TestMatchAlpineByOrigin(t *testing.T) {
	db := testDB(t)
	got := matchOne(t, db, pkg("libcrypto3", "3.1.3-r0", "pkg:apk/alpine/libcrypto3@3.1.3-r0?arch=x86_64&distro=alpine-3.18.4&upstream=openssl"))
	if len(got) != 1 || got[0].ID != "ALPINE-CVE-2023-5363" || got[0].FixedVersion != "3.1.4-r0" || got[0].Severity != High || got[0].Score != 7.5 {
		t.Fatalf("libcrypto3: %+v", got)
	}
	if got := matchOne(t, db, pkg("libcrypto3", "3.1.4-r0", "pkg:apk/alpine/libcrypto3@3.1.4-r0?distro=alpine-3.18.4&upstream=openssl")); len(got) != 0 {
		t.Errorf("fixed libcrypto3: %v", ids(got))
	}
}

func TestMatchAliasesFold(t *testing.T) {
	db := testDB(t)
	got := matchOne(t, db, pkg("golang.org/x/net", "v0.10.0", "pkg:golang/golang.org/x/net@v0.10.0"))
	// GO-2023-2102 and GHSA-4374-p667-p6c8 name each other: one finding,
	// every id kept; the withdrawn GO-2099-0003 never matches.
	if len(got) != 1 {
		t.Fatalf("x/net: %d findings %v, want 1", len(got), ids(got))
	}
	f := got[0]
	wantIDs := []string{"CVE-2023-39325", "CVE-2023-44487", "GHSA-4374-p667-p6c8", "GO-2023-2102"}
	if all := append([]string{f.ID}, f.Aliases...); !slices.Equal(all, wantIDs) {
		t.Errorf("ids %v, want %v", all, wantIDs)
	}
	if f.FixedVersion != "0.17.0" || f.Severity != High || f.SeveritySource != "database_specific" {
		t.Errorf("fixed %q severity %s from %q", f.FixedVersion, f.Severity, f.SeveritySource)
	}
	if got := matchOne(t, db, pkg("golang.org/x/net", "v0.17.0", "pkg:golang/golang.org/x/net@v0.17.0")); len(got) != 0 {
		t.Errorf("x/net v0.17.0: %v", ids(got))
	}
}

func TestMatchGoStdlib(t *testing.T) {
	db := testDB(t)
	cases := map[string]string{"v1.21.1": "1.21.3", "v1.20.2": "1.20.10", "v1.21.3": "", "v1.22.0": ""}
	for version, fixed := range cases {
		got := matchOne(t, db, pkg("stdlib", version, "pkg:golang/stdlib@"+version))
		if fixed == "" {
			if len(got) != 0 {
				t.Errorf("stdlib %s: %v", version, ids(got))
			}
			continue
		}
		if len(got) != 1 || got[0].FixedVersion != fixed {
			t.Errorf("stdlib %s: %+v, want fixed %s", version, got, fixed)
		}
	}
}

func TestMatchLanguageEcosystems(t *testing.T) {
	db := testDB(t)
	cases := []struct {
		p       sbom.Package
		id      string
		fixed   string
		sev     Severity
		fixable bool
	}{
		{pkg("minimist", "1.2.5", "pkg:npm/minimist@1.2.5"), "CVE-2021-44906", "1.2.6", Critical, true},
		{pkg("minimist", "0.2.1", "pkg:npm/minimist@0.2.1"), "CVE-2021-44906", "0.2.4", Critical, true},
		{pkg("@scope/lastpkg", "1.3.0", "pkg:npm/%40scope/lastpkg@1.3.0"), "GHSA-2099-last-aff", "", Critical, false},
		{pkg("listed", "2.0.2", "pkg:npm/listed@2.0.2"), "GHSA-2099-last-aff", "", Critical, false},
		{pkg("Requests", "2.28.1", "pkg:pypi/requests@2.28.1"), "CVE-2023-32681", "2.31.0", Medium, true},
		{pkg("org.apache.logging.log4j:log4j-core", "2.14.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"), "CVE-2021-44228", "2.15.0", Critical, true},
		{pkg("org.apache.logging.log4j:log4j-core", "2.12.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.12.1"), "CVE-2021-44228", "2.12.2", Critical, true},
		{pkg("rack", "2.2.3", "pkg:gem/rack@2.2.3"), "CVE-2022-30122", "2.2.3.1", High, true},
		{pkg("openssl", "0.10.48", "pkg:cargo/openssl@0.10.48"), "GHSA-xcf7-rvmh-g6q4", "0.10.55", Unknown, true},
		{pkg("guzzlehttp/psr7", "2.1.0", "pkg:composer/guzzlehttp/psr7@2.1.0"), "CVE-2022-24775", "2.1.1", High, true},
		{pkg("Newtonsoft.Json", "12.0.3", "pkg:nuget/Newtonsoft.Json@12.0.3"), "CVE-2024-21907", "13.0.1", High, true},
		{pkg("glibc", "2.34-60.el9", "pkg:rpm/rocky/glibc@2.34-60.el9?arch=x86_64&distro=rocky-9.2&upstream=glibc-2.34-60.el9.src.rpm"), "RLSA-2023:5249", "2.34-60.el9_2.7", High, true},
	}
	for _, c := range cases {
		got := matchOne(t, db, c.p)
		if len(got) != 1 {
			t.Errorf("%s: %d findings %v, want 1", c.p.PURL, len(got), ids(got))
			continue
		}
		f := got[0]
		if f.ID != c.id || f.FixedVersion != c.fixed || f.Severity != c.sev || f.Fixable() != c.fixable {
			t.Errorf("%s: id %s fixed %q severity %s fixable %v; want %s %q %s %v", c.p.PURL, f.ID, f.FixedVersion, f.Severity, f.Fixable(), c.id, c.fixed, c.sev, c.fixable)
		}
	}
	unaffected := []sbom.Package{
		pkg("minimist", "1.2.6", "pkg:npm/minimist@1.2.6"),
		pkg("@scope/lastpkg", "1.4.1", "pkg:npm/%40scope/lastpkg@1.4.1"),
		pkg("@scope/lastpkg", "0.9.0", "pkg:npm/%40scope/lastpkg@0.9.0"),
		pkg("listed", "2.0.3", "pkg:npm/listed@2.0.3"),
		pkg("requests", "2.2.0", "pkg:pypi/requests@2.2.0"),
		pkg("org.apache.logging.log4j:log4j-core", "2.17.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"),
		pkg("org.apache.logging.log4j:log4j-core", "2.0-beta8", "pkg:maven/org.apache.logging.log4j/log4j-core@2.0-beta8"),
		pkg("rack", "2.2.3.1", "pkg:gem/rack@2.2.3.1"),
		pkg("openssl", "0.9.24", "pkg:cargo/openssl@0.9.24"),
		pkg("guzzlehttp/psr7", "1.8.4", "pkg:composer/guzzlehttp/psr7@1.8.4"),
		pkg("Newtonsoft.Json", "13.0.1", "pkg:nuget/Newtonsoft.Json@13.0.1"),
		pkg("glibc", "2.34-60.el9_2.7", "pkg:rpm/rocky/glibc@2.34-60.el9_2.7?distro=rocky-9.2"),
	}
	for _, p := range unaffected {
		if got := matchOne(t, db, p); len(got) != 0 {
			t.Errorf("%s: unexpected findings %v", p.PURL, ids(got))
		}
	}
}

func TestMatchUbuntuLTSAndRating(t *testing.T) {
	db := testDB(t)
	got := matchOne(t, db, pkg("libc6", "2.35-0ubuntu3.1", "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.1?distro=ubuntu-22.04&upstream=glibc%402.35-0ubuntu3.1"))
	if len(got) != 1 || got[0].Package.Ecosystem != "Ubuntu:22.04:LTS" || got[0].Severity != High || got[0].SeveritySource != "Ubuntu" {
		t.Fatalf("ubuntu libc6: %+v", got)
	}
}

func TestMatchSortsBySeverity(t *testing.T) {
	db := testDB(t)
	findings, _, err := db.Match([]sbom.Package{
		pkg("requests", "2.28.1", "pkg:pypi/requests@2.28.1"),
		pkg("minimist", "1.2.5", "pkg:npm/minimist@1.2.5"),
		pkg("libc6", "2.36-9", "pkg:deb/debian/libc6@2.36-9?distro=debian-12&upstream=glibc%402.36-9"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(findings); i++ {
		if findings[i].Severity > findings[i-1].Severity {
			t.Errorf("finding %d (%s %s) after a lower one", i, findings[i].ID, findings[i].Severity)
		}
	}
	if findings[0].ID != "CVE-2021-44906" || findings[len(findings)-1].Severity != Unknown {
		t.Errorf("order: %v", ids(findings))
	}
}

func TestMatchIgnoresUncoveredPackages(t *testing.T) {
	db := testDB(t)
	for _, p := range []sbom.Package{
		pkg("busybox", "1.36", "pkg:generic/busybox@1.36"),
		pkg("libc6", "2.36-9", "pkg:deb/debian/libc6@2.36-9"),  // no distro: no release to match in
		pkg("requests", "2.28.1", "pkg:conda/requests@2.28.1"), // no OSV ecosystem for conda
		pkg("broken", "1", "not a purl"),
	} {
		if got := matchOne(t, db, p); len(got) != 0 {
			t.Errorf("%s: findings %v", p.PURL, ids(got))
		}
	}
}
