package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/internal/testutil"

	"github.com/docker/cli/cli/command"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// npmModule is an installed node module: the package.json the npm
// extractor reads, and the package the SBOM lists for it.
func npmModule(name, version string) (string, []byte, sbom.Package) {
	path := "app/node_modules/" + name + "/package.json"
	return path, []byte(`{"name":"` + name + `","version":"` + version + `","license":"MIT"}`),
		sbom.Package{Name: name, Version: version, Type: "npm", PURL: "pkg:npm/" + name + "@" + version, Licenses: []string{"MIT"}, Locations: []string{"/" + path}}
}

// testPlatform is one platform of a synthetic image: the node modules it
// holds and, when attested, what its build-time scan found.
type testPlatform struct {
	os, arch string
	modules  [][2]string // name, version
	attested bool
	// atBuild are the findings of the build-time scan result.
	atBuild []vuln.Finding
	// suppressed are findings the build's policy suppressed.
	suppressed []policy.Suppressed
	// statement, when set, replaces the SPDX attestation's layer bytes.
	statement []byte
}

// pushImage pushes an index with one image per platform and, for the
// attested ones, an attestation manifest as BuildKit writes it: the SPDX
// SBOM, the scan result and, when findings were suppressed, OpenVEX. It
// returns HOST/repo:tag.
func pushImage(t *testing.T, host, repoTag string, platforms ...testPlatform) string {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		files := map[string][]byte{}
		doc := &sbom.SBOM{Source: "test", Packages: []sbom.Package{}}
		for _, m := range p.modules {
			path, body, pkg := npmModule(m[0], m[1])
			files[path] = body
			doc.Packages = append(doc.Packages, pkg)
		}
		img, err := crane.Image(files)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg.OS, cfg.Architecture = p.os, p.arch
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		platform := &v1.Platform{OS: p.os, Architecture: p.arch}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platform}})
		if p.attested {
			adds = append(adds, attestationManifest(t, img, platform, doc, p))
		}
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

func attestationManifest(t *testing.T, img v1.Image, platform *v1.Platform, doc *sbom.SBOM, p testPlatform) mutate.IndexAddendum {
	t.Helper()
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var spdx bytes.Buffer
	if err := doc.WriteSPDX(&spdx, sbom.EncodeOptions{Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	verdict := policy.Verdict{Pass: true, Threshold: policy.Default.String(), Suppressed: p.suppressed}
	var rep bytes.Buffer
	if err := report.WriteJSON(&rep, &report.Scan{Target: "test", SBOM: doc, Findings: p.atBuild, Verdict: verdict, Threshold: policy.Default, ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	scan := map[string]any{
		"scanner": map[string]any{"uri": "https://github.com/secure-build/secure-build", "version": "test", "result": json.RawMessage(rep.Bytes())},
		"metadata": map[string]any{
			"scanFinishedOn": "2025-01-02T03:04:05Z",
			"verdict":        map[string]any{"pass": true, "threshold": verdict.Threshold, "decidedOn": "2025-01-02T03:04:06Z"},
		},
	}
	statement := func(predicateType string, predicate any) []byte {
		b, err := json.Marshal(map[string]any{
			"_type":         "https://in-toto.io/Statement/v0.1",
			"predicateType": predicateType,
			"subject":       []map[string]any{{"name": "_", "digest": map[string]string{"sha256": digest.Hex}}},
			"predicate":     predicate,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	layers := map[string][]byte{
		intoto.PredicateSPDX:             statement(intoto.PredicateSPDX, json.RawMessage(spdx.Bytes())),
		frontend.VulnPredicateType:       statement(frontend.VulnPredicateType, scan),
		"https://slsa.dev/provenance/v1": statement("https://slsa.dev/provenance/v1", map[string]any{}),
	}
	if p.statement != nil {
		layers[intoto.PredicateSPDX] = p.statement
	}
	if doc := report.OpenVEX(verdict, "secure-build test", time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC)); doc != nil {
		layers[frontend.OpenVEXPredicateType] = statement(frontend.OpenVEXPredicateType, doc)
	}
	att := empty.Image
	for _, pt := range []string{intoto.PredicateSPDX, frontend.VulnPredicateType, frontend.OpenVEXPredicateType, "https://slsa.dev/provenance/v1"} {
		b, ok := layers[pt]
		if !ok {
			continue
		}
		if att, err = mutate.Append(att, mutate.Addendum{
			Layer:       static.NewLayer(b, "application/vnd.in-toto+json"),
			Annotations: map[string]string{annotationPredicateType: pt},
		}); err != nil {
			t.Fatal(err)
		}
	}
	return mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{annotationReferenceType: referenceTypeAttestation, annotationReferenceDigest: digest.String()},
	}}
}

// minimistFinding is the build-time finding of minimist 1.2.5, the
// testdata's CVE-2021-44906.
func minimistFinding() vuln.Finding {
	return vuln.Finding{
		ID: "CVE-2021-44906", Aliases: []string{"GHSA-xvch-5gv4-984h"},
		Package:      vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5", Ecosystem: "npm", MatchName: "minimist", MatchVersion: "1.2.5"},
		FixedVersion: "1.2.6", Severity: vuln.Critical, Summary: "Prototype Pollution in minimist",
	}
}

// testDB imports the npm records of vuln's testdata into a fresh database.
func testDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := vuln.Import(context.Background(), dir, []vuln.Source{{Path: "../vuln/testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// run runs the command line as the binary would, and returns its output
// and exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut))
	if err != nil {
		t.Fatal(err)
	}
	cmd := NewRootCmd("docker-secure", dockerCli)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), ExitCode(err)
}

func TestReadAttestations(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := pushImage(t, host, "app:1",
		testPlatform{os: "linux", arch: "amd64", modules: [][2]string{{"minimist", "1.2.5"}}, attested: true, atBuild: []vuln.Finding{minimistFinding()}},
		testPlatform{os: "linux", arch: "arm64", modules: [][2]string{{"left-pad", "1.3.0"}}, attested: true,
			suppressed: []policy.Suppressed{{Finding: minimistFinding(), By: "ignore", Status: "not_affected", Reason: "not reachable", Source: "secure-build.yaml:5"}}},
	)
	a, err := readAttestations(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, p := range a.platforms {
		platforms = append(platforms, p.platform)
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) || len(a.unattested()) != 0 {
		t.Fatalf("platforms %q, unattested %q; want linux/amd64 and linux/arm64, both attested", platforms, a.unattested())
	}
	amd, arm := a.platforms[0], a.platforms[1]
	doc, err := amd.decodeSBOM()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) != 1 || doc.Packages[0].PURL != "pkg:npm/minimist@1.2.5" || doc.Source != amd.image.String() {
		t.Errorf("amd64 SBOM: source %q, packages %+v", doc.Source, doc.Packages)
	}
	if amd.scan == nil || !amd.scan.Metadata.Verdict.Pass || amd.scan.Metadata.Verdict.DecidedOn.IsZero() ||
		len(amd.scan.Scanner.Result.Findings) != 1 || amd.scan.Scanner.Result.Findings[0].ID != "CVE-2021-44906" {
		t.Errorf("amd64 scan result: %+v", amd.scan)
	}
	if amd.openVEX != nil || arm.openVEX == nil {
		t.Errorf("OpenVEX: amd64 %s, arm64 %s; want arm64's alone", amd.openVEX, arm.openVEX)
	}
	if s := arm.scan.Scanner.Result.Verdict.Suppressed; len(s) != 1 || s[0].Reason != "not reachable" || s[0].ID != "CVE-2021-44906" {
		t.Errorf("arm64 suppressed: %+v", s)
	}

	// --platform reads one; one the index lacks names those it has.
	a, err = readAttestations(context.Background(), ref, &v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil || len(a.platforms) != 1 || a.platforms[0].platform != "linux/arm64" {
		t.Errorf("linux/arm64 alone: %+v, %v", a, err)
	}
	_, err = readAttestations(context.Background(), ref, &v1.Platform{OS: "linux", Architecture: "s390x"})
	if err == nil || !strings.Contains(err.Error(), "no image for linux/s390x; it has linux/amd64, linux/arm64") {
		t.Errorf("linux/s390x: %v", err)
	}
}

func TestReadAttestationsErrors(t *testing.T) {
	host := testutil.MemoryRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/broken/") {
				http.Error(w, "storage failed", http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	bare := pushImage(t, host, "bare:1", testPlatform{os: "linux", arch: "amd64"})
	malformed := pushImage(t, host, "malformed:1", testPlatform{os: "linux", arch: "amd64", attested: true, statement: []byte("{not json")})
	for image, want := range map[string]string{
		host + "/broken:1":  "read " + host + "/broken:1 from the registry: GET http://" + host + "/v2/broken/manifests/1: unexpected status code 500",
		host + "/missing:1": host + "/missing:1: no such image in the registry",
		malformed:           "read attestations of " + malformed + ": linux/amd64: attestation sha256:",
		"UPPER/case":        `image reference "UPPER/case"`,
	} {
		_, err := readAttestations(context.Background(), image, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error saying %q", image, err, want)
		}
	}
	a, err := readAttestations(context.Background(), bare, nil)
	if err != nil || !slices.Equal(a.unattested(), []string{"linux/amd64"}) {
		t.Errorf("image without attestations: unattested %q, %v", a.unattested(), err)
	}
}
