package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// Annotations BuildKit puts on an attestation manifest's index entry and on
// its layers.
const (
	annotationReferenceType   = "vnd.docker.reference.type"
	annotationReferenceDigest = "vnd.docker.reference.digest"
	referenceTypeAttestation  = "attestation-manifest"
	annotationPredicateType   = "in-toto.io/predicate-type"
)

// maxStatementSize bounds an attestation read into memory: the SPDX SBOM of
// a large image is tens of megabytes; more is not an attestation of ours.
const maxStatementSize = 256 << 20

// imageAttestations is what a registry holds for an image: each platform's
// image manifest and what its attestations say.
type imageAttestations struct {
	ref       name.Reference
	digest    v1.Hash // of what ref names: the index, or the one manifest
	platforms []platformAttestations
}

// platformAttestations are one platform's attestations; a field is nil when
// the image has no attestation of that kind.
type platformAttestations struct {
	platform string      // os/arch[/variant]
	image    name.Digest // the platform's image manifest
	// spdx is the SPDX SBOM's predicate: secure-build's own, or BuildKit's
	// for an image built with --sbom by another tool.
	spdx json.RawMessage
	// scan is secure-build's scan result, made at build time.
	scan *buildScan
	// openVEX is the OpenVEX document of the findings suppressed at build
	// time, as attached.
	openVEX json.RawMessage
}

// unattested lists the platforms that have no SBOM to read.
func (a *imageAttestations) unattested() []string {
	var out []string
	for _, p := range a.platforms {
		if p.spdx == nil {
			out = append(out, p.platform)
		}
	}
	return out
}

// decodeSBOM reads the platform's SPDX attestation; the SBOM's source is the
// platform's image manifest.
func (p platformAttestations) decodeSBOM() (*sbom.SBOM, error) {
	doc, err := sbom.DecodeSPDX(bytes.NewReader(p.spdx), p.image.String()+" SPDX attestation")
	if err != nil {
		return nil, err
	}
	doc.Source = p.image.String()
	return doc, nil
}

// buildScan is the cosign vulnerability predicate a build attaches
// (frontend/attest.go): the JSON report (report/json.go) as scanner.result,
// and the verdict made on it.
type buildScan struct {
	Scanner struct {
		Version string      `json:"version"`
		Result  buildReport `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanFinishedOn time.Time `json:"scanFinishedOn"`
		Verdict        struct {
			Pass      bool      `json:"pass"`
			Threshold string    `json:"threshold"`
			DecidedOn time.Time `json:"decidedOn"`
		} `json:"verdict"`
	} `json:"metadata"`
}

// buildReport is the part of the JSON report (schema
// report/schema/report.schema.json) that inspect and verify read. Its
// findings carry vuln.Finding's fields under the same names.
type buildReport struct {
	SchemaVersion string         `json:"schemaVersion"`
	Findings      []vuln.Finding `json:"findings"`
	Verdict       struct {
		Suppressed []buildSuppressed  `json:"suppressed"`
		Violations []policy.Violation `json:"violations"`
		Notes      []string           `json:"notes"`
		// Incomplete is what the build's scan could not read (schema 1.2).
		Incomplete []sbom.Incompleteness `json:"incomplete"`
	} `json:"verdict"`
}

// buildSuppressed is a finding the build's policy suppressed, as the JSON
// report lists it.
type buildSuppressed struct {
	ID            string `json:"id"`
	Package       string `json:"package"`
	Version       string `json:"version"`
	PURL          string `json:"purl"`
	By            string `json:"by"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Source        string `json:"source"`
}

// reportMajor is the JSON report schema's major version this reads.
const reportMajor = "1"

// statement is an in-toto statement as BuildKit stores it in a layer. Not
// in-toto-golang's Statement: it decodes the predicate into a map, and the
// SPDX reader and the output want its bytes.
type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// readAttestations reads image from its registry: the index (or the single
// manifest), and for each platform, or only those matching want when it is
// not nil, the SBOM, scan result and OpenVEX attestations. A single manifest
// has none: BuildKit exports an index whenever it attaches attestations.
func readAttestations(ctx context.Context, image string, want *v1.Platform) (*imageAttestations, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", image, err)
	}
	opts := registry.Options(ctx)
	desc, err := registry.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	a := &imageAttestations{ref: ref, digest: desc.Digest}
	var have []string
	switch {
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read the config of %s: %w", ref, err)
		}
		p := cfg.Platform()
		if p == nil {
			p = &v1.Platform{}
		}
		have = append(have, p.String())
		if want == nil || p.Satisfies(*want) {
			a.platforms = append(a.platforms, platformAttestations{platform: p.String(), image: ref.Context().Digest(desc.Digest.String())})
		}
	case desc.MediaType.IsIndex():
		index, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("read the index of %s: %w", ref, err)
		}
		if have, err = a.readIndex(ctx, index, want, opts); err != nil {
			return nil, fmt.Errorf("read attestations of %s: %w", ref, err)
		}
	default:
		return nil, fmt.Errorf("%s is a %s, neither an image nor an index", ref, desc.MediaType)
	}
	switch {
	case len(a.platforms) == 0 && want != nil:
		return nil, fmt.Errorf("%s has no image for %s; it has %s", ref, want, strings.Join(have, ", "))
	case len(a.platforms) == 0:
		return nil, fmt.Errorf("%s is an index with no image manifest", ref)
	}
	return a, nil
}

// readIndex fills a.platforms from an index: image manifests first, so that
// attestation manifests pair with them whatever the order. It returns every
// platform the index has, for the error when none is wanted.
func (a *imageAttestations) readIndex(ctx context.Context, index *v1.IndexManifest, want *v1.Platform, opts []remote.Option) ([]string, error) {
	var have []string
	at := map[v1.Hash]int{} // image manifest -> its place in a.platforms
	var attestations []v1.Descriptor
	for _, m := range index.Manifests {
		if m.Annotations[annotationReferenceType] == referenceTypeAttestation {
			attestations = append(attestations, m)
			continue
		}
		if m.Platform == nil || !m.MediaType.IsImage() {
			continue // neither an image of a platform nor an attestation: nothing to read
		}
		have = append(have, m.Platform.String())
		if want != nil && !m.Platform.Satisfies(*want) {
			continue
		}
		at[m.Digest] = len(a.platforms)
		a.platforms = append(a.platforms, platformAttestations{platform: m.Platform.String(), image: a.ref.Context().Digest(m.Digest.String())})
	}
	for _, m := range attestations {
		subject, err := v1.NewHash(m.Annotations[annotationReferenceDigest])
		if err != nil {
			return nil, fmt.Errorf("attestation manifest %s: %s %q: %w", m.Digest, annotationReferenceDigest, m.Annotations[annotationReferenceDigest], err)
		}
		i, ok := at[subject]
		if !ok {
			continue // another platform's, or one not asked for
		}
		if err := a.platforms[i].read(ctx, a.ref.Context().Digest(m.Digest.String()), opts); err != nil {
			return nil, fmt.Errorf("%s: %w", a.platforms[i].platform, err)
		}
	}
	return have, nil
}

// read reads the statements of an attestation manifest that secure-build
// knows, the first of each kind: a build attaches the final stage's SBOM
// before those of other stages.
func (p *platformAttestations) read(ctx context.Context, manifest name.Digest, opts []remote.Option) error {
	img, err := remote.Image(manifest, opts...)
	if err != nil {
		return fmt.Errorf("attestation manifest %s: %w", manifest.DigestStr(), err)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("attestation manifest %s: %w", manifest.DigestStr(), err)
	}
	known := []string{intoto.PredicateSPDX, frontend.VulnPredicateType, frontend.OpenVEXPredicateType}
	for _, l := range m.Layers {
		pt := l.Annotations[annotationPredicateType]
		if !slices.Contains(known, pt) || p.has(pt) {
			continue
		}
		st, err := readStatement(img, l.Digest)
		if err != nil {
			return fmt.Errorf("attestation %s (%s): %w", l.Digest, pt, err)
		}
		if st.PredicateType != pt {
			return fmt.Errorf("attestation %s: predicate type %q, but its layer is annotated %q", l.Digest, st.PredicateType, pt)
		}
		if err := p.take(st); err != nil {
			return fmt.Errorf("attestation %s (%s): %w", l.Digest, pt, err)
		}
	}
	return nil
}

func (p *platformAttestations) has(predicateType string) bool {
	switch predicateType {
	case intoto.PredicateSPDX:
		return p.spdx != nil
	case frontend.VulnPredicateType:
		return p.scan != nil
	}
	return p.openVEX != nil
}

// readStatement reads an attestation layer as stored: in-toto layers are
// plain JSON, never compressed, and the registry read checks the digest.
func readStatement(img v1.Image, digest v1.Hash) (statement, error) {
	var st statement
	layer, err := img.LayerByDigest(digest)
	if err != nil {
		return st, err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return st, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxStatementSize+1))
	if err != nil {
		return st, err
	}
	if len(b) > maxStatementSize {
		return st, fmt.Errorf("larger than %d bytes", maxStatementSize)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("not an in-toto statement: %w", err)
	}
	if !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
		return st, fmt.Errorf("not an in-toto statement: _type %q", st.Type)
	}
	return st, nil
}

// take keeps a statement after checking that it speaks of this platform's
// image: an attestation of another image must not pass for this one's.
func (p *platformAttestations) take(st statement) error {
	hex := p.image.DigestStr()[len("sha256:"):]
	if !slices.ContainsFunc(st.Subject, func(s subject) bool { return s.Digest["sha256"] == hex }) {
		return fmt.Errorf("its subject %v is not the image manifest %s", st.Subject, p.image.DigestStr())
	}
	if len(st.Predicate) == 0 || string(st.Predicate) == "null" {
		return fmt.Errorf("no predicate")
	}
	switch st.PredicateType {
	case intoto.PredicateSPDX:
		p.spdx = st.Predicate
	case frontend.VulnPredicateType:
		var scan buildScan
		if err := json.Unmarshal(st.Predicate, &scan); err != nil {
			return fmt.Errorf("read the scan result: %w", err)
		}
		major, _, _ := strings.Cut(scan.Scanner.Result.SchemaVersion, ".")
		if major != reportMajor {
			return fmt.Errorf("the scan result's report has schema version %q; this secure-build reads %s.x", scan.Scanner.Result.SchemaVersion, reportMajor)
		}
		p.scan = &scan
	case frontend.OpenVEXPredicateType:
		p.openVEX = st.Predicate
	}
	return nil
}

// parsePlatform reads --platform: "" is every platform.
func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, fmt.Errorf("--platform %q: %w", s, err)
	}
	return p, nil
}

// writeJSON writes the JSON document of verify or inspect, indented, with
// its text as written ("<", "&" unescaped: it is not for HTML).
func writeJSON(w io.Writer, doc any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
