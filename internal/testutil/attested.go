package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Predicate types of the attestations the tests read.
const (
	PredicateSPDX       = "https://spdx.dev/Document"
	PredicateVuln       = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateOpenVEX    = "https://openvex.dev/ns/v0.2.0"
	PredicateProvenance = "https://slsa.dev/provenance/v1" // BuildKit's default (SLSA v1)
)

// Annotations BuildKit puts on an attestation manifest's index entry and
// layers.
const (
	AnnotationReferenceType   = "vnd.docker.reference.type"
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	ReferenceTypeAttestation  = "attestation-manifest"
	AnnotationPredicateType   = "in-toto.io/predicate-type"
)

// ImageInfo is an image as read back from a registry, the way docker buildx
// imagetools inspect shows it. Platforms are "os/arch[/variant]".
type ImageInfo struct {
	Ref       string
	Digest    string            // of what Ref names: the index, or the single manifest
	MediaType types.MediaType   // of what Ref names
	Index     *v1.IndexManifest // nil when Ref names a single image manifest
	// Images maps a platform to its image manifest's digest.
	Images map[string]string
	// AttestationManifests maps a platform to the digest of the attestation
	// manifest that refers to its image manifest.
	AttestationManifests map[string]string
	// AttestationLayers are all the layers of a platform's attestation
	// manifest, in order.
	AttestationLayers map[string][]AttestationLayer
	// Attestations maps platform, then predicate type, to the statement: the
	// first layer of that type, when there are several (SBOMs of several
	// stages).
	Attestations map[string]map[string]Statement
}

// AttestationLayer is one layer of an attestation manifest.
type AttestationLayer struct {
	Digest      string
	MediaType   types.MediaType
	Annotations map[string]string
	Statement   Statement
}

// Statement is an in-toto statement as BuildKit writes it.
type Statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []Subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is what a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// ReadImage reads ref ("HOST/repo:tag" or "...@sha256:...") from a registry
// over plain HTTP: the index (or single manifest), each platform's image
// manifest digest, and each platform's attestation manifest with its in-toto
// statements. It fails the test on anything it cannot read or pair up.
func ReadImage(t testing.TB, ref string) ImageInfo {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("ReadImage %q: %v", ref, err)
	}
	opts := []remote.Option{remote.WithContext(t.Context())}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		t.Fatalf("ReadImage %s: %v", ref, err)
	}
	info := ImageInfo{
		Ref:                  ref,
		Digest:               desc.Digest.String(),
		MediaType:            desc.MediaType,
		Images:               map[string]string{},
		AttestationManifests: map[string]string{},
		AttestationLayers:    map[string][]AttestationLayer{},
		Attestations:         map[string]map[string]Statement{},
	}
	if desc.MediaType.IsImage() {
		img, err := desc.Image()
		if err != nil {
			t.Fatalf("ReadImage %s: %v", ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatalf("ReadImage %s: config: %v", ref, err)
		}
		info.Images[platformString(cfg.Platform())] = info.Digest
		return info
	}
	if !desc.MediaType.IsIndex() {
		t.Fatalf("ReadImage %s: media type %s is neither an image manifest nor an index", ref, desc.MediaType)
	}
	index, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		t.Fatalf("ReadImage %s: index: %v", ref, err)
	}
	info.Index = index

	// Image manifests first, so that attestations can be paired with them
	// whatever the order of the index.
	platformOf := map[string]string{} // image manifest digest → platform
	var attestationEntries []v1.Descriptor
	for _, m := range index.Manifests {
		if m.Annotations[AnnotationReferenceType] == ReferenceTypeAttestation {
			attestationEntries = append(attestationEntries, m)
			continue
		}
		if m.Platform == nil {
			t.Fatalf("ReadImage %s: index entry %s has no platform and is no attestation manifest:\n%s", ref, m.Digest, desc.Manifest)
		}
		p := platformString(m.Platform)
		if prev, dup := info.Images[p]; dup {
			t.Fatalf("ReadImage %s: two image manifests for %s: %s and %s", ref, p, prev, m.Digest)
		}
		info.Images[p] = m.Digest.String()
		platformOf[m.Digest.String()] = p
	}
	for _, m := range attestationEntries {
		subject := m.Annotations[AnnotationReferenceDigest]
		p, ok := platformOf[subject]
		if !ok {
			t.Fatalf("ReadImage %s: attestation manifest %s refers to %q, no image manifest of the index:\n%s", ref, m.Digest, subject, desc.Manifest)
		}
		if prev, dup := info.AttestationManifests[p]; dup {
			t.Fatalf("ReadImage %s: two attestation manifests for %s: %s and %s", ref, p, prev, m.Digest)
		}
		info.AttestationManifests[p] = m.Digest.String()
		layers := readAttestationManifest(t, r.Context().Digest(m.Digest.String()), opts)
		info.AttestationLayers[p] = layers
		byType := map[string]Statement{}
		for _, l := range layers {
			pt := l.Annotations[AnnotationPredicateType]
			if pt == "" {
				pt = l.Statement.PredicateType
			}
			if _, seen := byType[pt]; !seen {
				byType[pt] = l.Statement
			}
		}
		info.Attestations[p] = byType
	}
	return info
}

// readAttestationManifest reads the in-toto statement of each layer of an
// attestation manifest.
func readAttestationManifest(t testing.TB, d name.Digest, opts []remote.Option) []AttestationLayer {
	t.Helper()
	img, err := remote.Image(d, opts...)
	if err != nil {
		t.Fatalf("attestation manifest %s: %v", d, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatalf("attestation manifest %s: %v", d, err)
	}
	var layers []AttestationLayer
	for _, l := range m.Layers {
		// The blob as stored: in-toto layers are plain JSON, never compressed.
		layer, err := remote.Layer(d.Context().Digest(l.Digest.String()), opts...)
		if err != nil {
			t.Fatalf("attestation manifest %s: layer %s: %v", d, l.Digest, err)
		}
		body, err := layer.Compressed()
		if err != nil {
			t.Fatalf("attestation manifest %s: layer %s: %v", d, l.Digest, err)
		}
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Fatalf("attestation manifest %s: read layer %s: %v", d, l.Digest, err)
		}
		var st Statement
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("attestation manifest %s: layer %s (%s) is no in-toto statement: %v", d, l.Digest, l.MediaType, err)
		}
		layers = append(layers, AttestationLayer{Digest: l.Digest.String(), MediaType: l.MediaType, Annotations: l.Annotations, Statement: st})
	}
	return layers
}

// platformString is "os/arch" or "os/arch/variant", the keys of ImageInfo.
func platformString(p *v1.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// VulnPredicate is the part of the cosign vulnerability predicate (the scan
// result) the tests check.
type VulnPredicate struct {
	Scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      struct {
			Version string `json:"version"`
			Age     string `json:"age"`
		} `json:"db"`
		Result struct {
			Verdict struct {
				Pass       bool `json:"pass"`
				Suppressed []struct {
					ID     string `json:"id"`
					By     string `json:"by"`
					Source string `json:"source"`
				} `json:"suppressed"`
			} `json:"verdict"`
			Findings []struct {
				ID      string `json:"id"`
				Package struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"package"`
			} `json:"findings"`
		} `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn  string `json:"scanStartedOn"`
		ScanFinishedOn string `json:"scanFinishedOn"`
		Verdict        struct {
			Pass bool `json:"pass"`
		} `json:"verdict"`
	} `json:"metadata"`
}

// SPDXPackages are the name@version of an SPDX predicate's packages; the
// predicate must be SPDX 2.3.
func SPDXPackages(t testing.TB, predicate json.RawMessage) []string {
	t.Helper()
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name    string `json:"name"`
			Version string `json:"versionInfo"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(predicate, &doc); err != nil {
		t.Fatalf("SPDX predicate: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" {
		t.Errorf("SPDX predicate version %q, want SPDX-2.3", doc.SPDXVersion)
	}
	var out []string
	for _, p := range doc.Packages {
		out = append(out, p.Name+"@"+p.Version)
	}
	return out
}

// Attested is what AssertAttested expects of an image's attestations for a
// platform.
type Attested struct {
	Package string // name@version secure-build's SBOM lists
	// Finding is the one finding of the scan result, which passed; "" when
	// the build makes no scan result (BuildKit's SBOM generator protocol).
	Finding string
	// ScannerVersion, when set, is the scanner version the scan result names.
	ScannerVersion string
	// Provenance: BuildKit's provenance attestation is there too (buildx's
	// default, which the plugin follows).
	Provenance bool
}

// AssertAttested reads the image at ref back from the registry and checks
// its attestations for platform: exactly one SPDX 2.3 SBOM, about the image
// manifest, listing want.Package; and unless want.Finding is "", a passing
// scan result naming the scanner, its database and the scan's time, with
// want.Finding alone.
func AssertAttested(t testing.TB, ref, platform string, want Attested) {
	t.Helper()
	img := ReadImage(t, ref)
	atts := img.Attestations[platform]
	if atts == nil {
		t.Errorf("%s %s: no attestation manifest in the index", ref, platform)
		return
	}
	var spdxLayers int
	for _, l := range img.AttestationLayers[platform] {
		if l.Statement.PredicateType == PredicateSPDX {
			spdxLayers++
		}
	}
	if spdxLayers != 1 {
		t.Errorf("%s %s: %d SPDX attestations, want secure-build's alone", ref, platform, spdxLayers)
	}
	sbom, ok := atts[PredicateSPDX]
	if !ok {
		t.Errorf("%s %s: no SPDX attestation; predicate types %v", ref, platform, Keys(atts))
		return
	}
	if len(sbom.Subject) != 1 || "sha256:"+sbom.Subject[0].Digest["sha256"] != img.Images[platform] {
		t.Errorf("%s %s: SBOM subject %+v, want the image manifest %s", ref, platform, sbom.Subject, img.Images[platform])
	}
	if pkgs := SPDXPackages(t, sbom.Predicate); !slices.Contains(pkgs, want.Package) {
		t.Errorf("%s %s: SBOM packages %v, want %s", ref, platform, pkgs, want.Package)
	}
	if _, ok := atts[PredicateProvenance]; want.Provenance && !ok {
		t.Errorf("%s %s: no provenance; predicate types %v", ref, platform, Keys(atts))
	}
	if want.Finding == "" {
		return
	}
	scan, ok := atts[PredicateVuln]
	if !ok {
		t.Errorf("%s %s: no scan result attestation; predicate types %v", ref, platform, Keys(atts))
		return
	}
	var p VulnPredicate
	if err := json.Unmarshal(scan.Predicate, &p); err != nil {
		t.Fatalf("%s %s: scan predicate: %v", ref, platform, err)
	}
	if p.Scanner.URI == "" || p.Scanner.DB.Version == "" || p.Scanner.DB.Age == "" || p.Metadata.ScanStartedOn == "" {
		t.Errorf("%s %s: scanner or database facts missing: %+v", ref, platform, p)
	}
	if !p.Metadata.Verdict.Pass || !p.Scanner.Result.Verdict.Pass {
		t.Errorf("%s %s: verdict is not pass: %+v", ref, platform, p.Metadata.Verdict)
	}
	if len(p.Scanner.Result.Findings) != 1 || p.Scanner.Result.Findings[0].ID != want.Finding {
		t.Errorf("%s %s: findings %+v, want %s alone", ref, platform, p.Scanner.Result.Findings, want.Finding)
	}
	if want.ScannerVersion != "" && p.Scanner.Version != want.ScannerVersion {
		t.Errorf("%s %s: scanner version %q, want %s", ref, platform, p.Scanner.Version, want.ScannerVersion)
	}
}

// Keys are a map's keys, sorted.
func Keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
