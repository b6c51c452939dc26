// Package attested reads an image back from a registry as docker buildx
// imagetools inspect shows it, and checks the attestations secure-build
// attached, through attest's declarations. A package of its own, apart from
// testutil: attest's and registry's tests import testutil, and this imports
// attest.
package attested

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

	"github.com/secure-build/secure-build/attest"
)

// PredicateProvenance is the predicate type of BuildKit's default (SLSA
// v1) provenance attestation; secure-build's own are attest's.
const PredicateProvenance = "https://slsa.dev/provenance/v1"

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
	Attestations map[string]map[string]attest.Statement
}

// AttestationLayer is one layer of an attestation manifest.
type AttestationLayer struct {
	Digest      string
	MediaType   types.MediaType
	Annotations map[string]string
	Statement   attest.Statement
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
		Attestations:         map[string]map[string]attest.Statement{},
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
		if m.Annotations[attest.AnnotationReferenceType] == attest.ReferenceTypeAttestation {
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
		subject := m.Annotations[attest.AnnotationReferenceDigest]
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
		byType := map[string]attest.Statement{}
		for _, l := range layers {
			pt := l.Annotations[attest.AnnotationPredicateType]
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
		var st attest.Statement
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

// Want is what Assert expects of an image's attestations for a
// platform.
type Want struct {
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

// Assert reads the image at ref back from the registry and checks
// its attestations for platform: exactly one SPDX 2.3 SBOM, about the image
// manifest, listing want.Package; and unless want.Finding is "", a passing
// scan result naming the scanner, its database and the scan's time, with
// want.Finding alone. The statements and the scan result are read as
// secure-build's own commands read them, through attest.
func Assert(t testing.TB, ref, platform string, want Want) {
	t.Helper()
	img := ReadImage(t, ref)
	var spdxLayers int
	for _, l := range img.AttestationLayers[platform] {
		if l.Statement.PredicateType == attest.SPDXPredicateType {
			spdxLayers++
			if len(l.Statement.Subject) != 1 || "sha256:"+l.Statement.Subject[0].Digest["sha256"] != img.Images[platform] {
				t.Errorf("%s %s: SBOM subject %+v, want the image manifest %s", ref, platform, l.Statement.Subject, img.Images[platform])
			}
		}
	}
	if spdxLayers != 1 {
		t.Errorf("%s %s: %d SPDX attestations, want secure-build's alone; predicate types %v", ref, platform, spdxLayers, Keys(img.Attestations[platform]))
	}
	if _, ok := img.Attestations[platform][PredicateProvenance]; want.Provenance && !ok {
		t.Errorf("%s %s: no provenance; predicate types %v", ref, platform, Keys(img.Attestations[platform]))
	}

	p, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	read, err := attest.Read(t.Context(), ref, p)
	if err != nil {
		t.Fatalf("attest.Read %s %s: %v", ref, platform, err)
	}
	if len(read.Platforms) != 1 {
		t.Fatalf("attest.Read %s %s: %d platforms", ref, platform, len(read.Platforms))
	}
	atts := read.Platforms[0]
	if atts.SPDX == nil {
		t.Errorf("%s %s: no SPDX attestation", ref, platform)
	} else if pkgs := SPDXPackages(t, atts.SPDX); !slices.Contains(pkgs, want.Package) {
		t.Errorf("%s %s: SBOM packages %v, want %s", ref, platform, pkgs, want.Package)
	}
	if want.Finding == "" {
		return
	}
	if atts.Scan == nil {
		t.Fatalf("%s %s: no scan result attestation; predicate types %v", ref, platform, Keys(img.Attestations[platform]))
	}
	pred, rep := atts.Scan.Predicate, atts.Scan.Report
	if pred.Scanner.URI == "" || pred.Scanner.DB.Version == "" || pred.Scanner.DB.Age == "" || pred.Metadata.ScanStartedOn.IsZero() {
		t.Errorf("%s %s: scanner or database facts missing: %+v", ref, platform, pred)
	}
	if !pred.Metadata.Verdict.Pass || !rep.Verdict.Pass {
		t.Errorf("%s %s: verdict is not pass: %+v, %+v", ref, platform, pred.Metadata.Verdict, rep.Verdict)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].ID != want.Finding {
		t.Errorf("%s %s: findings %+v, want %s alone", ref, platform, rep.Findings, want.Finding)
	}
	if want.ScannerVersion != "" && pred.Scanner.Version != want.ScannerVersion {
		t.Errorf("%s %s: scanner version %q, want %s", ref, platform, pred.Scanner.Version, want.ScannerVersion)
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
