package sbom

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/secure-build/secure-build/internal/sbomcheck"
)

// TestDocumentsPassTheValidators: the SPDX and CycloneDX documents of a
// root with OS and language packages, some with license ids that are not on
// the SPDX License List, pass the official definitions of their formats.
func TestDocumentsPassTheValidators(t *testing.T) {
	s := catalogedRoot(t)
	opts := EncodeOptions{Created: time.Unix(1700000000, 0), ToolVersion: "1.2.3"}
	if err := sbomcheck.SPDX(encodeSPDX(t, s, opts)); err != nil {
		t.Errorf("SPDX of a folder:\n%v", err)
	}
	if err := sbomcheck.CycloneDX(encodeCycloneDX(t, s, opts)); err != nil {
		t.Errorf("CycloneDX of a folder: %v", err)
	}

	img, err := CatalogImage(context.Background(), image(t, layer(t, file("etc/os-release", debianOSRelease), file("var/lib/dpkg/status", dpkgStatus))), "registry:example.com/team/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	img.Image.Named(name.MustParseReference("example.com/team/app:1.0"))
	if err := sbomcheck.SPDX(encodeSPDX(t, img, opts)); err != nil {
		t.Errorf("SPDX of an image:\n%v", err)
	}
	if err := sbomcheck.CycloneDX(encodeCycloneDX(t, img, opts)); err != nil {
		t.Errorf("CycloneDX of an image: %v", err)
	}
}

// TestSPDXRootAndOS: the root has a versionInfo and a purl (pkg:oci for an
// image of a known repository, pkg:generic else), the distribution a purl
// and the purpose in the JSON spelling; a document read back has neither
// among its packages.
func TestSPDXRootAndOS(t *testing.T) {
	opts := EncodeOptions{Created: time.Unix(1700000000, 0), ToolVersion: "1.2.3"}
	layers := []tarEntry{file("etc/os-release", debianOSRelease), file("var/lib/dpkg/status", dpkgStatus)}
	amd64, err := mutate.ConfigFile(image(t, layer(t, layers...)), &v1.ConfigFile{Architecture: "amd64", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	named, err := CatalogImage(context.Background(), amd64, "registry:example.com/team/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	named.Image.Named(name.MustParseReference("example.com/team/app:1.0"))
	digest := named.Image.Digest
	local, err := CatalogImage(context.Background(), amd64, "oci-layout:out:v1")
	if err != nil {
		t.Fatal(err)
	}
	folder := catalogedRoot(t)
	folder.Source = "final stage"

	for _, tt := range []struct {
		s           *SBOM
		purl        string // the root's; "" is pkg:generic/NAME@sha256:… of the catalog
		version     string
		genericName string
	}{
		{named, "pkg:oci/app@" + digest + "?arch=amd64&repository_url=example.com%2Fteam%2Fapp&tag=1.0", digest, ""},
		{local, "pkg:generic/oci-layout-out-v1@" + digest, digest, ""},
		{folder, "", "", "final-stage"},
	} {
		out := encodeSPDX(t, tt.s, opts)
		doc, err := spdxjson.Read(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		purls := map[string]string{}
		versions := map[string]string{}
		for _, p := range doc.Packages {
			versions[string(p.PackageSPDXIdentifier)] = p.PackageVersion
			for _, ref := range p.PackageExternalReferences {
				if ref.RefType == "purl" {
					purls[string(p.PackageSPDXIdentifier)] = ref.Locator
				}
			}
			if p.PackageSPDXIdentifier == "OperatingSystem" && p.PrimaryPackagePurpose != "OPERATING_SYSTEM" {
				t.Errorf("%s: OS purpose %q, want OPERATING_SYSTEM", tt.s.Source, p.PrimaryPackagePurpose)
			}
		}
		root := purls["Root"]
		if tt.purl != "" && root != tt.purl {
			t.Errorf("%s: root purl %q, want %q", tt.s.Source, root, tt.purl)
		}
		if tt.genericName != "" {
			p, err := packageurl.FromString(root)
			if err != nil || p.Type != "generic" || p.Name != tt.genericName || p.Version != versions["Root"] || !strings.HasPrefix(p.Version, "sha256:") {
				t.Errorf("%s: root purl %q (%v), want pkg:generic/%s@ its versionInfo %q", tt.s.Source, root, err, tt.genericName, versions["Root"])
			}
		}
		if tt.version != "" && versions["Root"] != tt.version {
			t.Errorf("%s: root versionInfo %q, want %q", tt.s.Source, versions["Root"], tt.version)
		}
		if got := purls["OperatingSystem"]; got != "pkg:generic/debian@12" {
			t.Errorf("%s: OS purl %q, want pkg:generic/debian@12", tt.s.Source, got)
		}
		if strings.Contains(string(out), "OPERATING-SYSTEM") {
			t.Errorf("%s: the tag-value spelling OPERATING-SYSTEM is in the JSON", tt.s.Source)
		}

		back, err := DecodeSPDX(bytes.NewReader(out), "doc.json")
		if err != nil {
			t.Fatal(err)
		}
		if back.Distro == nil || back.Distro.ID != "debian" {
			t.Errorf("%s: read back, distro %+v", tt.s.Source, back.Distro)
		}
		if len(back.Packages) != len(tt.s.Packages) {
			t.Errorf("%s: read back %d packages, wrote %d: the root or the OS was read as a package", tt.s.Source, len(back.Packages), len(tt.s.Packages))
		}
	}
}

// TestDecodeSPDXOldOSPurpose: a document of an earlier version, with the
// OS purpose in the tag-value spelling, still gives its distribution.
func TestDecodeSPDXOldOSPurpose(t *testing.T) {
	s := catalogedRoot(t)
	out := bytes.Replace(encodeSPDX(t, s, EncodeOptions{Created: time.Unix(0, 0)}), []byte(`"OPERATING_SYSTEM"`), []byte(`"OPERATING-SYSTEM"`), 1)
	back, err := DecodeSPDX(bytes.NewReader(out), "old.json")
	if err != nil {
		t.Fatal(err)
	}
	if back.Distro == nil || back.Distro.ID != "debian" || back.Distro.VersionID != "12" {
		t.Errorf("distro %+v, want debian 12", back.Distro)
	}
}
