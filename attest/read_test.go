package attest_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/in-toto-golang/in_toto"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

// minimist is a finding of the build-time scan: minimist 1.2.5's
// CVE-2021-44906.
var minimist = vuln.Finding{
	ID: "CVE-2021-44906", Aliases: []string{"GHSA-xvch-5gv4-984h"},
	Package:      vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5", Ecosystem: "npm", MatchName: "minimist", MatchVersion: "1.2.5"},
	FixedVersion: "1.2.6", Severity: vuln.Critical, Summary: "Prototype Pollution in minimist",
}

func TestRead(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := attesttest.Push(t, host, "app:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true, AtBuild: []vuln.Finding{minimist}},
		attesttest.Platform{OS: "linux", Arch: "arm64", Modules: [][2]string{{"left-pad", "1.3.0"}}, Attested: true,
			Suppressed: []policy.Suppressed{{Finding: minimist, By: "ignore", Status: "not_affected", Reason: "not reachable", Source: "secure-build.yaml:5"}}},
	)
	img, err := attest.Read(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, p := range img.Platforms {
		platforms = append(platforms, p.Name)
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) || len(img.Unattested()) != 0 {
		t.Fatalf("platforms %q, unattested %q; want linux/amd64 and linux/arm64, both attested", platforms, img.Unattested())
	}
	amd, arm := img.Platforms[0], img.Platforms[1]
	doc, err := amd.SBOM()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) != 1 || doc.Packages[0].PURL != "pkg:npm/minimist@1.2.5" || doc.Source != amd.Image.String() {
		t.Errorf("amd64 SBOM: source %q, packages %+v", doc.Source, doc.Packages)
	}
	if amd.Scan == nil || !amd.Scan.Predicate.Metadata.Verdict.Pass || amd.Scan.Predicate.Metadata.Verdict.DecidedOn.IsZero() ||
		len(amd.Scan.Findings()) != 1 || amd.Scan.Findings()[0].ID != "CVE-2021-44906" {
		t.Errorf("amd64 scan result: %+v", amd.Scan)
	}
	if amd.OpenVEX != nil || arm.OpenVEX == nil {
		t.Errorf("OpenVEX: amd64 %s, arm64 %s; want arm64's alone", amd.OpenVEX, arm.OpenVEX)
	}
	if s := arm.Scan.Report.Verdict.Suppressed; len(s) != 1 || s[0].Reason != "not reachable" || s[0].ID != "CVE-2021-44906" {
		t.Errorf("arm64 suppressed: %+v", s)
	}

	// A platform reads one; one the index lacks names those it has.
	img, err = attest.Read(context.Background(), ref, &v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil || len(img.Platforms) != 1 || img.Platforms[0].Name != "linux/arm64" {
		t.Errorf("linux/arm64 alone: %+v, %v", img, err)
	}
	_, err = attest.Read(context.Background(), ref, &v1.Platform{OS: "linux", Architecture: "s390x"})
	if err == nil || !strings.Contains(err.Error(), "no image for linux/s390x; it has linux/amd64, linux/arm64") {
		t.Errorf("linux/s390x: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	host := testutil.MemoryRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/broken/") {
				http.Error(w, "storage failed", http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	bare := attesttest.Push(t, host, "bare:1", attesttest.Platform{OS: "linux", Arch: "amd64"})
	malformed := attesttest.Push(t, host, "malformed:1", attesttest.Platform{OS: "linux", Arch: "amd64", Attested: true, Statement: []byte("{not json")})
	for image, want := range map[string]string{
		host + "/broken:1":  "read " + host + "/broken:1 from the registry: GET http://" + host + "/v2/broken/manifests/1: unexpected status code 500",
		host + "/missing:1": host + "/missing:1: no such image in the registry",
		malformed:           "read attestations of " + malformed + ": linux/amd64: attestation sha256:",
		"UPPER/case":        `image reference "UPPER/case"`,
	} {
		_, err := attest.Read(context.Background(), image, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error saying %q", image, err, want)
		}
	}
	img, err := attest.Read(context.Background(), bare, nil)
	if err != nil || !slices.Equal(img.Unattested(), []string{"linux/amd64"}) {
		t.Errorf("image without attestations: %+v, %v", img, err)
	}
	// The registry: prefix of the scan targets names the same image.
	if img, err := attest.Read(context.Background(), "registry:"+bare, nil); err != nil || img.Ref.String() != bare {
		t.Errorf("registry:%s: %+v, %v", bare, img, err)
	}
}

// TestReadLocal: an image on this machine is not looked for in a registry:
// the error says to push it, or to scan it where it is.
func TestReadLocal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "app.tar")
	if err := os.WriteFile(file, []byte("a tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, image := range []string{file, "oci-layout:" + file, "docker-archive:" + file} {
		_, err := attest.Read(context.Background(), image, nil)
		if err == nil || !strings.Contains(err.Error(), "is an image on this machine; attestations are read from a registry") ||
			!strings.Contains(err.Error(), "docker secure scan "+image) {
			t.Errorf("%s: %v, want an error saying to push it or scan it", image, err)
		}
	}
}

// TestReadUnnamed: BuildKit leaves the statements' subject empty for an
// image exported without a name; they are bound to the image manifest by
// their attestation manifest's vnd.docker.reference.digest. A subject naming
// another image is still refused.
func TestReadUnnamed(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := attesttest.Push(t, host, "unnamed:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true, AtBuild: []vuln.Finding{minimist}, Unnamed: true})
	img, err := attest.Read(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := img.Platforms[0]; p.SPDX == nil || p.Scan == nil || len(p.Scan.Findings()) != 1 {
		t.Errorf("unnamed image's attestations: SPDX %t, scan %+v; want both read", p.SPDX != nil, p.Scan)
	}

	other := "sha256:" + strings.Repeat("ab", 32)
	misbound := attesttest.Push(t, host, "misbound:1", attesttest.Platform{OS: "linux", Arch: "amd64", Attested: true,
		Subject: []intoto.Subject{{Name: "_", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}}}})
	_, err = attest.Read(context.Background(), misbound, nil)
	if err == nil || !strings.Contains(err.Error(), "is not the image manifest") || !strings.Contains(err.Error(), strings.TrimPrefix(other, "sha256:")) {
		t.Errorf("a statement of another image: %v, want it refused", err)
	}
}
