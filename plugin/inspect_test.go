package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// inspectImage pushes a two-platform image: amd64 with a fixable and an
// unfixed finding at build time, arm64 with a finding its policy suppressed.
func inspectImage(t *testing.T, host string) string {
	t.Helper()
	unfixed := vuln.Finding{ID: "GHSA-2099-last-aff", Package: vuln.Package{Name: "listed", Version: "2.0.1", PURL: "pkg:npm/listed@2.0.1"}, Severity: vuln.Critical}
	low := vuln.Finding{ID: "CVE-2099-0001", Package: vuln.Package{Name: "listed", Version: "2.0.1", PURL: "pkg:npm/listed@2.0.1"}, Severity: vuln.Low, FixedVersion: "2.0.3"}
	return attesttest.Push(t, host, "app:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}, {"listed", "2.0.1"}}, Attested: true,
			AtBuild: []vuln.Finding{unfixed, low, minimistFinding()}},
		attesttest.Platform{OS: "linux", Arch: "arm64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true,
			AtBuild:    []vuln.Finding{minimistFinding()},
			Suppressed: []policy.Suppressed{{Finding: minimistFinding(), By: "ignore", Status: "not_affected", Reason: "not reachable\nfrom our code", Source: "secure-build.yaml:5"}}},
	)
}

func TestInspectTable(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := inspectImage(t, host)
	stdout, stderr, code := run(t, "inspect", ref)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	amd, arm, ok := strings.Cut(stdout, "Platform: linux/arm64")
	if !ok || !strings.HasPrefix(stdout, "Image: "+ref+" (sha256:") {
		t.Fatalf("not the image, then one section a platform:\n%s", stdout)
	}
	for _, want := range []string{
		"Packages: 2 (npm 2)\n",
		"Verdict: PASS (fail on: critical or higher, fixable only), decided 2025-01-02T03:04:06Z; scanned 2025-01-02T03:04:05Z by secure-build test\n",
		"Findings at build: " + "critical: 1 fixable of 2, low: 1 fixable of 1",
		// Fixable first, then by severity.
		"  CVE-2021-44906      minimist  1.2.5 -> 1.2.6       critical  Prototype Pollution in minimist\n" +
			"  CVE-2099-0001       listed    2.0.1 -> 2.0.3       low       \n" +
			"  GHSA-2099-last-aff  listed    2.0.1 -> no fix yet  critical  \n",
	} {
		if !strings.Contains(amd, want) {
			t.Errorf("linux/amd64 does not say %q:\n%s", want, amd)
		}
	}
	for _, want := range []string{
		"Suppressed (1):\n  CVE-2021-44906 minimist 1.2.5: ignore not_affected (secure-build.yaml:5)\n    not reachable from our code\n",
		"OpenVEX: attached",
	} {
		if !strings.Contains(arm, want) {
			t.Errorf("linux/arm64 does not say %q:\n%s", want, arm)
		}
	}
	if strings.Contains(amd, "Suppressed") || strings.Contains(amd, "OpenVEX") {
		t.Errorf("linux/amd64 shows arm64's suppressions:\n%s", amd)
	}
}

func TestInspectJSON(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := inspectImage(t, host)
	stdout, stderr, code := run(t, "inspect", "--format", "json", ref)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var doc struct {
		Image     string
		Platforms []struct {
			Platform string
			SBOM     struct {
				Packages int
				ByType   map[string]int
			}
			Scan struct {
				Verdict    struct{ Pass bool }
				Findings   []vuln.Finding
				Suppressed []report.JSONSuppressed
			}
			OpenVEX *struct {
				Context string `json:"@context"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if doc.Image != ref || len(doc.Platforms) != 2 {
		t.Fatalf("document: %+v", doc)
	}
	amd, arm := doc.Platforms[0], doc.Platforms[1]
	if amd.Platform != "linux/amd64" || amd.SBOM.Packages != 2 || amd.SBOM.ByType["npm"] != 2 || !amd.Scan.Verdict.Pass ||
		len(amd.Scan.Findings) != 3 || amd.Scan.Findings[0].ID != "CVE-2021-44906" || amd.OpenVEX != nil {
		t.Errorf("linux/amd64: %+v", amd)
	}
	if arm.Platform != "linux/arm64" || len(arm.Scan.Suppressed) != 1 || arm.Scan.Suppressed[0].Source != "secure-build.yaml:5" ||
		arm.OpenVEX == nil || !strings.HasPrefix(arm.OpenVEX.Context, "https://openvex.dev/ns") {
		t.Errorf("linux/arm64: %+v", arm)
	}
}

func TestInspectSPDX(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := inspectImage(t, host)
	_, stderr, code := run(t, "inspect", "--format", "spdx-json", ref)
	if code != ExitError || !strings.Contains(stderr, "has 2 platforms (linux/amd64, linux/arm64): name one with --platform") {
		t.Errorf("several platforms: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := run(t, "inspect", "--format", "spdx-json", "--platform", "linux/arm64", ref)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	doc, err := sbom.DecodeSPDX(strings.NewReader(stdout), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) != 1 || doc.Packages[0].PURL != "pkg:npm/minimist@1.2.5" {
		t.Errorf("packages %+v, want linux/arm64's minimist", doc.Packages)
	}
}

func TestInspectWithoutAttestations(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := attesttest.Push(t, host, "bare:1", attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}})
	for _, format := range []string{"table", "spdx-json"} {
		_, stderr, code := run(t, "inspect", "--format", format, ref)
		if want := ref + " has no secure-build attestations: build and push it with 'docker secure build --push'"; code != ExitError || !strings.Contains(stderr, want) {
			t.Errorf("--format %s: exit %d, want %d saying %q:\n%s", format, code, ExitError, want, stderr)
		}
	}
}
