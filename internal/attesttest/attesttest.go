// Package attesttest pushes images whose attestations are written as
// BuildKit writes them, with attest's declarations, for the tests of what
// reads them back (attest, and the inspect and verify commands).
package attesttest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intoto "github.com/in-toto/in-toto-golang/in_toto"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// When the pushed scan results say the scan finished and the verdict was
// made.
var (
	ScannedAt = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	DecidedAt = time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC)
)

// NPMModule is an installed node module: the package.json the npm
// extractor reads, and the package the SBOM lists for it.
func NPMModule(name, version string) (string, []byte, sbom.Package) {
	path := "app/node_modules/" + name + "/package.json"
	return path, []byte(`{"name":"` + name + `","version":"` + version + `","license":"MIT"}`),
		sbom.Package{Name: name, Version: version, Type: "npm", PURL: "pkg:npm/" + name + "@" + version, Licenses: []string{"MIT"}, Locations: []string{"/" + path}}
}

// Platform is one platform of a pushed image: the node modules it holds
// and, when attested, what its build-time scan found.
type Platform struct {
	OS, Arch string
	Modules  [][2]string // name, version
	Attested bool
	// AtBuild are the findings of the build-time scan result.
	AtBuild []vuln.Finding
	// Suppressed are findings the build's policy suppressed.
	Suppressed []policy.Suppressed
	// Statement, when set, replaces the SPDX attestation's layer bytes.
	Statement []byte
	// Unnamed leaves the statements' subject empty, as BuildKit does for an
	// image exported without a name; Subject, when set, replaces it.
	Unnamed bool
	Subject []intoto.Subject
}

// Push pushes an index with one image per platform and, for the attested
// ones, an attestation manifest as BuildKit writes it: the SPDX SBOM, the
// scan result, a provenance statement and, when findings were suppressed,
// OpenVEX. It returns HOST/repo:tag.
func Push(t testing.TB, host, repoTag string, platforms ...Platform) string {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		files := map[string][]byte{}
		doc := &sbom.SBOM{Source: "test", Packages: []sbom.Package{}}
		for _, m := range p.Modules {
			path, body, pkg := NPMModule(m[0], m[1])
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
		cfg.OS, cfg.Architecture = p.OS, p.Arch
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}}})
		if p.Attested {
			adds = append(adds, attestationManifest(t, img, doc, p))
		}
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

func attestationManifest(t testing.TB, img v1.Image, doc *sbom.SBOM, p Platform) mutate.IndexAddendum {
	t.Helper()
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var spdx bytes.Buffer
	if err := doc.WriteSPDX(&spdx, sbom.EncodeOptions{Created: ScannedAt, ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	verdict := policy.Verdict{Pass: true, Threshold: policy.Default.String(), Suppressed: p.Suppressed}
	var rep bytes.Buffer
	if err := report.WriteJSON(&rep, &report.Scan{Target: "test", SBOM: doc, Findings: p.AtBuild, Verdict: verdict, Threshold: policy.Default, ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	scan := attest.VulnPredicate{
		Invocation: attest.VulnInvocation{Parameters: []string{}},
		Scanner:    attest.VulnScanner{URI: "https://github.com/secure-build/secure-build", Version: "test", Result: rep.Bytes()},
		Metadata: attest.VulnMetadata{
			ScanFinishedOn: ScannedAt,
			Verdict:        attest.VulnVerdict{Pass: true, Threshold: verdict.Threshold, DecidedOn: DecidedAt},
		},
	}
	statement := func(predicateType string, predicate any) []byte {
		b, err := json.Marshal(predicate)
		if err != nil {
			t.Fatal(err)
		}
		st := attest.NewStatement(predicateType, b)
		switch {
		case p.Unnamed:
			st.Subject = []intoto.Subject{}
		case p.Subject != nil:
			st.Subject = p.Subject
		default:
			st.Subject = []intoto.Subject{{Name: "_", Digest: map[string]string{"sha256": digest.Hex}}}
		}
		if b, err = json.Marshal(st); err != nil {
			t.Fatal(err)
		}
		return b
	}
	const provenance = "https://slsa.dev/provenance/v1"
	layers := map[string][]byte{
		attest.SPDXPredicateType: statement(attest.SPDXPredicateType, json.RawMessage(spdx.Bytes())),
		attest.VulnPredicateType: statement(attest.VulnPredicateType, scan),
		provenance:               statement(provenance, map[string]any{}),
	}
	if p.Statement != nil {
		layers[attest.SPDXPredicateType] = p.Statement
	}
	if doc := report.OpenVEX(verdict, "secure-build test", DecidedAt); doc != nil {
		layers[attest.OpenVEXPredicateType] = statement(attest.OpenVEXPredicateType, doc)
	}
	att := empty.Image
	for _, pt := range []string{attest.SPDXPredicateType, attest.VulnPredicateType, attest.OpenVEXPredicateType, provenance} {
		b, ok := layers[pt]
		if !ok {
			continue
		}
		if att, err = mutate.Append(att, mutate.Addendum{
			Layer:       static.NewLayer(b, attest.MediaTypeInToto),
			Annotations: map[string]string{attest.AnnotationPredicateType: pt},
		}); err != nil {
			t.Fatal(err)
		}
	}
	return mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{attest.AnnotationReferenceType: attest.ReferenceTypeAttestation, attest.AnnotationReferenceDigest: digest.String()},
	}}
}
