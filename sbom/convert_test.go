package sbom

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/osv-scalibr/extractor"
	archivemeta "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive/metadata"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/package-url/packageurl-go"
)

func TestConvert(t *testing.T) {
	rhel := &Distro{ID: "rhel", VersionID: "9.3"}
	debian := &Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm"}
	sid := &Distro{ID: "debian", VersionCodename: "trixie"}
	tests := []struct {
		name   string
		in     *extractor.Package
		distro *Distro
		want   Package
	}{
		{
			name: "rpm with epoch and source rpm",
			in: &extractor.Package{Name: "openssl-libs", Version: "3.0.7-27.el9", PURLType: "rpm", Licenses: []string{"ASL 2.0"},
				Location: extractor.LocationFromPath("var/lib/rpm/rpmdb.sqlite"),
				Metadata: &rpmmeta.Metadata{PackageName: "openssl-libs", SourceRPM: "openssl-3.0.7-27.el9.src.rpm", Epoch: 1, Architecture: "x86_64"}},
			distro: rhel,
			want: Package{Name: "openssl-libs", Version: "1:3.0.7-27.el9", Type: "rpm",
				PURL:       "pkg:rpm/rhel/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.3&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm",
				SourceName: "openssl", SourceVersion: "3.0.7-27.el9", Licenses: []string{"ASL 2.0"}, Locations: []string{"/var/lib/rpm/rpmdb.sqlite"}},
		},
		{
			name: "rpm without epoch or source",
			in: &extractor.Package{Name: "gpg-pubkey", Version: "fd431d51-4ae0493b", PURLType: "rpm",
				Metadata: &rpmmeta.Metadata{PackageName: "gpg-pubkey"}},
			distro: rhel,
			want: Package{Name: "gpg-pubkey", Version: "fd431d51-4ae0493b", Type: "rpm",
				PURL:       "pkg:rpm/rhel/gpg-pubkey@fd431d51-4ae0493b?distro=rhel-9.3",
				SourceName: "gpg-pubkey", SourceVersion: "fd431d51-4ae0493b"},
		},
		{
			name: "deb, distro by codename",
			in: &extractor.Package{Name: "libc6", Version: "2.40-2", PURLType: "deb",
				Metadata: &dpkgmeta.Metadata{PackageName: "libc6", SourceName: "glibc", Architecture: "arm64"}},
			distro: sid,
			want: Package{Name: "libc6", Version: "2.40-2", Type: "deb",
				PURL:       "pkg:deb/debian/libc6@2.40-2?arch=arm64&distro=debian-trixie&upstream=glibc%402.40-2",
				SourceName: "glibc", SourceVersion: "2.40-2"},
		},
		{
			name: "apk without origin",
			in: &extractor.Package{Name: "alpine-baselayout", Version: "3.4.3-r1", PURLType: "apk",
				Metadata: &apkmeta.Metadata{PackageName: "alpine-baselayout", Architecture: "aarch64"}},
			distro: &Distro{ID: "alpine", VersionID: "3.18.4"},
			want: Package{Name: "alpine-baselayout", Version: "3.4.3-r1", Type: "apk",
				PURL:       "pkg:apk/alpine/alpine-baselayout@3.4.3-r1?arch=aarch64&distro=alpine-3.18.4&upstream=alpine-baselayout",
				SourceName: "alpine-baselayout", SourceVersion: "3.4.3-r1"},
		},
		{
			name:   "go module without v",
			in:     &extractor.Package{Name: "github.com/sirupsen/logrus", Version: "1.9.3", PURLType: "golang"},
			distro: debian,
			want:   Package{Name: "github.com/sirupsen/logrus", Version: "v1.9.3", Type: "golang", PURL: "pkg:golang/github.com/sirupsen/logrus@v1.9.3"},
		},
		{
			name: "go toolchain",
			in:   &extractor.Package{Name: "go", Version: "1.22.5", PURLType: "golang"},
			want: Package{Name: "stdlib", Version: "v1.22.5", Type: "golang", PURL: "pkg:golang/stdlib@v1.22.5"},
		},
		{
			name: "python name normalized",
			in:   &extractor.Package{Name: "Zope.Interface", Version: "6.1", PURLType: "pypi", Licenses: []string{"ZPL 2.1\nfull text", "UNKNOWN", ""}},
			want: Package{Name: "zope-interface", Version: "6.1", Type: "pypi", PURL: "pkg:pypi/zope-interface@6.1", Licenses: []string{"ZPL 2.1"}},
		},
		{
			name: "scoped npm",
			in:   &extractor.Package{Name: "@types/node", Version: "20.10.0", PURLType: "npm"},
			want: Package{Name: "@types/node", Version: "20.10.0", Type: "npm", PURL: "pkg:npm/%40types/node@20.10.0"},
		},
		{
			name: "maven through osv-scalibr's purl",
			in: &extractor.Package{Name: "org.slf4j:slf4j-api", Version: "2.0.9", PURLType: "maven",
				Metadata: &archivemeta.Metadata{GroupID: "org.slf4j", ArtifactID: "slf4j-api"}},
			want: Package{Name: "org.slf4j:slf4j-api", Version: "2.0.9", Type: "maven", PURL: "pkg:maven/org.slf4j/slf4j-api@2.0.9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convert(tt.in, tt.distro)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.want.Name || got.Version != tt.want.Version || got.Type != tt.want.Type || got.PURL != tt.want.PURL ||
				got.SourceName != tt.want.SourceName || got.SourceVersion != tt.want.SourceVersion ||
				!slices.Equal(got.Licenses, tt.want.Licenses) || !slices.Equal(got.Locations, tt.want.Locations) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			// Every purl we write parses back to the same facts.
			p, err := packageurl.FromString(got.PURL)
			if err != nil {
				t.Fatalf("purl %s does not parse: %v", got.PURL, err)
			}
			if p.Type != got.Type {
				t.Errorf("purl type %q, package type %q", p.Type, got.Type)
			}
		})
	}
}

func TestConvertRejects(t *testing.T) {
	for _, p := range []*extractor.Package{
		{Name: "", Version: "1", PURLType: "npm"},
		{Name: "x", Version: "", PURLType: "npm"},
		{Name: "x", Version: "1", PURLType: ""},
	} {
		if got, err := convert(p, nil); err == nil {
			t.Errorf("convert(%+v) = %+v, want an error", p, got)
		}
	}
}

func TestNormalizePython(t *testing.T) {
	for in, want := range map[string]string{
		"Foo_Bar.baz":       "foo-bar-baz",
		"requests":          "requests",
		"typing_extensions": "typing-extensions",
		"Zope.Interface":    "zope-interface",
		"a--_.b":            "a-b",
		"PyYAML":            "pyyaml",
	} {
		if got := NormalizePythonName(in); got != want {
			t.Errorf("NormalizePythonName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoNameVersion(t *testing.T) {
	tests := []struct{ name, version, wantName, wantVersion string }{
		{"go", "1.22.5", "stdlib", "v1.22.5"},
		{"go", "go1.21.0", "stdlib", "v1.21.0"},
		{"golang.org/x/net", "0.23.0", "golang.org/x/net", "v0.23.0"},
		{"golang.org/x/net", "v0.23.0", "golang.org/x/net", "v0.23.0"},
		{"example.com/app", "(devel)", "example.com/app", "(devel)"},
		{"github.com/docker/docker", "28.0.0+incompatible", "github.com/docker/docker", "v28.0.0+incompatible"},
	}
	for _, tt := range tests {
		if n, v := goNameVersion(tt.name, tt.version); n != tt.wantName || v != tt.wantVersion {
			t.Errorf("goNameVersion(%q, %q) = %q, %q; want %q, %q", tt.name, tt.version, n, v, tt.wantName, tt.wantVersion)
		}
	}
}

func TestParseSourceRPM(t *testing.T) {
	tests := []struct {
		in, name, version string
		ok                bool
	}{
		{"openssl-3.0.7-27.el9.src.rpm", "openssl", "3.0.7-27.el9", true},
		{"glibc-2.34-83.el9_3.7.src.rpm", "glibc", "2.34-83.el9_3.7", true},
		{"python-setuptools-53.0.0-12.el9.src.rpm", "python-setuptools", "53.0.0-12.el9", true},
		{"kernel-5.14.0-362.8.1.el9_3.nosrc.rpm", "kernel", "5.14.0-362.8.1.el9_3", true},
		{"bash-5.2.26-3.fc40", "bash", "5.2.26-3.fc40", true},
		{"openssl.src.rpm", "", "", false},
		{"openssl-3.0.7.src.rpm", "", "", false},
		{"-3.0.7-27.src.rpm", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		n, v, ok := parseSourceRPM(tt.in)
		if n != tt.name || v != tt.version || ok != tt.ok {
			t.Errorf("parseSourceRPM(%q) = %q, %q, %v; want %q, %q, %v", tt.in, n, v, ok, tt.name, tt.version, tt.ok)
		}
	}
}

// FuzzParseSourceRPM: when it parses, name and version-release rebuild the
// name it was given, and none of the three parts is empty.
func FuzzParseSourceRPM(f *testing.F) {
	f.Add("openssl-3.0.7-27.el9.src.rpm")
	f.Fuzz(func(t *testing.T, s string) {
		name, version, ok := parseSourceRPM(s)
		if !ok {
			if name != "" || version != "" {
				t.Fatalf("not ok, yet %q %q", name, version)
			}
			return
		}
		v, release, found := strings.Cut(version, "-")
		if name == "" || v == "" || !found || release == "" || strings.Contains(release, "-") {
			t.Fatalf("parseSourceRPM(%q) = %q, %q: want name, version and release", s, name, version)
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s, ".rpm"), ".src"), ".nosrc")
		if name+"-"+version != base {
			t.Fatalf("parseSourceRPM(%q) = %q, %q: does not rebuild %q", s, name, version, base)
		}
	})
}
