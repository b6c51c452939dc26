package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/sbom"
)

// maxStatementSize bounds an attestation read into memory: the SPDX SBOM of
// a large image is tens of megabytes; more is not an attestation of ours.
const maxStatementSize = 256 << 20

// Image is what a registry holds for an image: each platform's image
// manifest and what its attestations say.
type Image struct {
	Ref name.Reference
	// Digest is that of what Ref names: the index, or the one manifest.
	Digest    v1.Hash
	Platforms []Platform
}

// Platform is one platform's attestations; a field is nil when the image
// has no attestation of that kind.
type Platform struct {
	Name  string      // os/arch[/variant]
	Image name.Digest // the platform's image manifest
	// SPDX is the SPDX SBOM's predicate: secure-build's own, or BuildKit's
	// for an image built with --sbom by another tool.
	SPDX json.RawMessage
	// Scan is secure-build's scan result, made at build time.
	Scan *Scan
	// Provenance is BuildKit's SLSA provenance, v0.2 or v1.
	Provenance *Provenance
	// OpenVEX is the OpenVEX document of the findings suppressed at build
	// time, as attached.
	OpenVEX json.RawMessage
	// Statements are the statements the fields above were taken from, as
	// read: what sign/ signs, and checks against the signed ones.
	Statements []Statement
}

// Unattested lists the platforms that have no SBOM to read.
func (img *Image) Unattested() []string {
	var out []string
	for _, p := range img.Platforms {
		if p.SPDX == nil {
			out = append(out, p.Name)
		}
	}
	return out
}

// SBOM reads the platform's SPDX attestation; the SBOM's source is the
// platform's image manifest.
func (p Platform) SBOM() (*sbom.SBOM, error) {
	doc, err := sbom.DecodeSPDX(bytes.NewReader(p.SPDX), p.Image.String()+" SPDX attestation")
	if err != nil {
		return nil, err
	}
	doc.Source = p.Image.String()
	return doc, nil
}

// Read reads ref ("REF" or "registry:REF") from its registry: the index (or the single manifest), and
// for each platform, or only those matching platform when it is not nil,
// the SBOM, scan result and OpenVEX attestations. A single manifest has
// none: BuildKit exports an index whenever it attaches attestations.
func Read(ctx context.Context, ref string, platform *v1.Platform) (*Image, error) {
	ref = strings.TrimPrefix(ref, registry.RegistryPrefix)
	if registry.IsLocal(ref) {
		return nil, fmt.Errorf("%s is an image on this machine; attestations are read from a registry: push the image with them "+
			"(crane push DIR REF, DIR the OCI layout folder that -o type=oci,tar=false,dest=DIR writes) and name REF, "+
			"or scan it here: docker secure scan %s", ref, ref)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	desc, err := registry.Get(ctx, r)
	if err != nil {
		return nil, err
	}
	img := &Image{Ref: r, Digest: desc.Digest}
	var have []string
	switch {
	case desc.MediaType.IsImage():
		manifest, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", r, err)
		}
		cfg, err := manifest.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("read the config of %s: %w", r, err)
		}
		p := cfg.Platform()
		if p == nil {
			p = &v1.Platform{}
		}
		have = append(have, p.String())
		if platform == nil || p.Satisfies(*platform) {
			img.Platforms = append(img.Platforms, Platform{Name: p.String(), Image: r.Context().Digest(desc.Digest.String())})
		}
	case desc.MediaType.IsIndex():
		index, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("read the index of %s: %w", r, err)
		}
		if have, err = img.readIndex(ctx, index, platform); err != nil {
			return nil, fmt.Errorf("read attestations of %s: %w", r, err)
		}
	default:
		return nil, fmt.Errorf("%s is a %s, neither an image nor an index", r, desc.MediaType)
	}
	switch {
	case len(img.Platforms) == 0 && platform != nil:
		return nil, fmt.Errorf("%s has no image for %s; it has %s", r, platform, strings.Join(have, ", "))
	case len(img.Platforms) == 0:
		return nil, fmt.Errorf("%s is an index with no image manifest", r)
	}
	return img, nil
}

// readIndex fills img.Platforms from an index: image manifests first, so
// that attestation manifests pair with them whatever the order. It returns
// every platform the index has, for the error when none is wanted.
func (img *Image) readIndex(ctx context.Context, index *v1.IndexManifest, want *v1.Platform) ([]string, error) {
	var have []string
	at := map[v1.Hash]int{} // image manifest -> its place in img.Platforms
	var attestations []v1.Descriptor
	for _, m := range index.Manifests {
		if m.Annotations[AnnotationReferenceType] == ReferenceTypeAttestation {
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
		at[m.Digest] = len(img.Platforms)
		img.Platforms = append(img.Platforms, Platform{Name: m.Platform.String(), Image: img.Ref.Context().Digest(m.Digest.String())})
	}
	opts := registry.Options(ctx)
	for _, m := range attestations {
		subject, err := v1.NewHash(m.Annotations[AnnotationReferenceDigest])
		if err != nil {
			return nil, fmt.Errorf("attestation manifest %s: %s %q: %w", m.Digest, AnnotationReferenceDigest, m.Annotations[AnnotationReferenceDigest], err)
		}
		i, ok := at[subject]
		if !ok {
			continue // another platform's, or one not asked for
		}
		if err := img.Platforms[i].read(img.Ref.Context().Digest(m.Digest.String()), subject, opts); err != nil {
			return nil, fmt.Errorf("%s: %w", img.Platforms[i].Name, err)
		}
	}
	return have, nil
}

// read reads the statements of an attestation manifest that secure-build
// knows, the first of each kind: a build attaches the final stage's SBOM
// before those of other stages. bound is the image manifest the index
// entry of the attestation manifest names (vnd.docker.reference.digest).
func (p *Platform) read(manifest name.Digest, bound v1.Hash, opts []remote.Option) error {
	img, err := remote.Image(manifest, opts...)
	if err != nil {
		return fmt.Errorf("attestation manifest %s: %w", manifest.DigestStr(), err)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("attestation manifest %s: %w", manifest.DigestStr(), err)
	}
	known := []string{SPDXPredicateType, VulnPredicateType, OpenVEXPredicateType, ProvenanceV02PredicateType, ProvenanceV1PredicateType}
	for _, l := range m.Layers {
		pt := l.Annotations[AnnotationPredicateType]
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
		if err := p.take(st, bound); err != nil {
			return fmt.Errorf("attestation %s (%s): %w", l.Digest, pt, err)
		}
	}
	return nil
}

func (p *Platform) has(predicateType string) bool {
	switch predicateType {
	case SPDXPredicateType:
		return p.SPDX != nil
	case VulnPredicateType:
		return p.Scan != nil
	case ProvenanceV02PredicateType, ProvenanceV1PredicateType:
		return p.Provenance != nil
	}
	return p.OpenVEX != nil
}

// ReadBlob reads a layer of img as stored, at most max bytes: a larger one
// is an error, not a truncated read.
func ReadBlob(img v1.Image, digest v1.Hash, max int) ([]byte, error) {
	layer, err := img.LayerByDigest(digest)
	if err != nil {
		return nil, err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// readStatement reads an attestation layer as stored: in-toto layers are
// plain JSON, never compressed, and the registry read checks the digest.
func readStatement(img v1.Image, digest v1.Hash) (Statement, error) {
	var st Statement
	b, err := ReadBlob(img, digest, maxStatementSize)
	if err != nil {
		return st, err
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
// image: an attestation of another image must not pass for this one's. Its
// subject names the image manifest; or it has none, as BuildKit writes the
// statements of an image exported without a name, and then it speaks of the
// image its attestation manifest is bound to in the index (bound), which
// must be this one. A subject naming anything else is refused.
func (p *Platform) take(st Statement, bound v1.Hash) error {
	hex := p.Image.DigestStr()[len("sha256:"):]
	switch {
	case len(st.Subject) == 0 && bound.String() != p.Image.DigestStr():
		return fmt.Errorf("it has no subject, and its attestation manifest is bound to %s, not to the image manifest %s", bound, p.Image.DigestStr())
	case len(st.Subject) > 0 && !slices.ContainsFunc(st.Subject, func(s intoto.Subject) bool { return s.Digest["sha256"] == hex }):
		return fmt.Errorf("its subject %v is not the image manifest %s", st.Subject, p.Image.DigestStr())
	}
	if len(st.Predicate) == 0 || string(st.Predicate) == "null" {
		return fmt.Errorf("no predicate")
	}
	switch st.PredicateType {
	case SPDXPredicateType:
		p.SPDX = st.Predicate
	case VulnPredicateType:
		scan, err := DecodeScan(st.Predicate)
		if err != nil {
			return err
		}
		p.Scan = scan
	case OpenVEXPredicateType:
		p.OpenVEX = st.Predicate
	case ProvenanceV02PredicateType, ProvenanceV1PredicateType:
		prov, err := DecodeProvenance(st.PredicateType, st.Predicate)
		if err != nil {
			return err
		}
		p.Provenance = prov
	}
	p.Statements = append(p.Statements, st)
	return nil
}
