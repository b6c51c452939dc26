package sign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/registry"
)

// maxEnvelope bounds a signed statement read into memory: an attestation
// of attest's largest size, base64-encoded, in a bundle.
const maxEnvelope = 400 << 20

// Where a signed statement was found.
const (
	FromAttTag = "cosign tag"
	FromBundle = "bundle referrer"
)

// Found is a signed statement published for an image manifest, not yet
// checked.
type Found struct {
	PredicateType string
	From          string // FromAttTag or FromBundle
	// KeyHint is the bundle's key hint (Signer.ID); "" in the cosign tag.
	KeyHint  string
	Envelope *dsse.Envelope
}

// Read lists the signed statements published for d: the layers of its
// cosign attestation tag and its Sigstore bundle referrers.
func Read(ctx context.Context, d name.Digest) ([]Found, error) {
	var out []Found
	tag := AttTag(d)
	img, err := registry.Image(ctx, tag)
	switch {
	case registry.NotFound(err):
	case err != nil:
		return nil, err
	default:
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", tag, err)
		}
		for _, l := range m.Layers {
			if l.MediaType != MediaTypeDSSE {
				continue
			}
			b, err := attest.ReadBlob(img, l.Digest, maxEnvelope)
			if err != nil {
				return nil, fmt.Errorf("read %s layer %s: %w", tag, l.Digest, err)
			}
			var env dsse.Envelope
			if err := json.Unmarshal(b, &env); err != nil {
				return nil, fmt.Errorf("%s layer %s: not a DSSE envelope: %w", tag, l.Digest, err)
			}
			out = append(out, Found{PredicateType: l.Annotations[AnnotationPredicateType], From: FromAttTag, Envelope: &env})
		}
	}
	refs, err := registry.Referrers(ctx, d)
	if err != nil {
		return nil, err
	}
	for _, m := range refs.Manifests {
		// A registry lists the manifest's artifactType; go-containerregistry's
		// lists its config's media type instead, but keeps the annotations.
		if m.ArtifactType != MediaTypeBundle && m.Annotations[AnnotationBundleContent] == "" {
			continue
		}
		ref := d.Context().Digest(m.Digest.String())
		img, err := registry.Image(ctx, ref)
		if err != nil {
			return nil, err
		}
		bm, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("read bundle %s: %w", ref, err)
		}
		if len(bm.Layers) != 1 || bm.Layers[0].MediaType != MediaTypeBundle {
			return nil, fmt.Errorf("bundle %s: want one layer of %s", ref, MediaTypeBundle)
		}
		b, err := attest.ReadBlob(img, bm.Layers[0].Digest, maxEnvelope)
		if err != nil {
			return nil, fmt.Errorf("read bundle %s: %w", ref, err)
		}
		env, hint, err := envelopeOfBundle(b)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", ref, err)
		}
		out = append(out, Found{PredicateType: bm.Annotations[AnnotationBundlePredicateType], From: FromBundle, KeyHint: hint, Envelope: env})
	}
	return out, nil
}

// Signature is who signed one of a platform's statements, as inspect shows it.
type Signature struct {
	PredicateType string `json:"predicateType"`
	From          string `json:"from"`
	// Key is the key hint, or with a key to check against, its file when
	// the signature verifies.
	Key      string `json:"key"`
	Verified bool   `json:"verified"`
}

// Check verifies each of p's statements (as attest.Read read them) against
// found, the signed statements published for p's image manifest: one must
// verify with v, name p's image manifest in its subject, and hold the same
// predicate. An error names the statement, the key and what to do.
func Check(ctx context.Context, ref string, p attest.Platform, found []Found, v *Verifier) error {
	var errs []error
	for _, st := range Signable(p.Statements) {
		if err := checkStatement(ctx, p, st, found, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: the %s statement (%s) %w", p.Name, kind(st.PredicateType), st.PredicateType, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w\nSign the image with the private key of %s: docker secure attest %s --key cosign.key; "+
			"if it was signed, check that --key names the signer's public key; a statement that differs from the signed one was changed after signing: do not trust the image",
			errors.Join(errs...), v.Path, ref)
	}
	return nil
}

func checkStatement(ctx context.Context, p attest.Platform, st attest.Statement, found []Found, v *Verifier) error {
	hex := strings.TrimPrefix(p.Image.DigestStr(), "sha256:")
	var why []string
	for _, f := range found {
		if f.PredicateType != st.PredicateType {
			continue
		}
		signed, err := v.Open(ctx, f.Envelope)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", f.From, err))
			continue
		}
		if signed.PredicateType != st.PredicateType {
			why = append(why, fmt.Sprintf("%s: signed predicate type %q under an annotation of %q", f.From, signed.PredicateType, st.PredicateType))
			continue
		}
		if !slices.ContainsFunc(signed.Subject, func(s intoto.Subject) bool { return s.Digest["sha256"] == hex }) {
			why = append(why, fmt.Sprintf("%s: signed for another image (subject %v), not %s", f.From, signed.Subject, p.Image.DigestStr()))
			continue
		}
		if !sameJSON(signed.Predicate, st.Predicate) {
			why = append(why, fmt.Sprintf("%s: the attached statement differs from the one signed with %s", f.From, v.Path))
			continue
		}
		return nil
	}
	if len(why) == 0 {
		return fmt.Errorf("is not signed: no signed statement of its type for %s", p.Image)
	}
	return fmt.Errorf("has no valid signature by %s (%s): %s", v.Path, v.ID, strings.Join(why, "; "))
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// kind names a predicate type for a person.
func kind(predicateType string) string {
	switch predicateType {
	case attest.SPDXPredicateType:
		return "SPDX SBOM"
	case attest.VulnPredicateType:
		return "vulnerability scan"
	case attest.OpenVEXPredicateType:
		return "OpenVEX"
	}
	return "in-toto"
}

// Signatures says who signed which of the statements found: each found
// statement's predicate type, where it was found, and its key (checked with
// v when v is not nil).
func Signatures(ctx context.Context, p attest.Platform, found []Found, v *Verifier) []Signature {
	var out []Signature
	for _, f := range found {
		s := Signature{PredicateType: f.PredicateType, From: f.From, Key: f.KeyHint}
		if s.Key == "" {
			s.Key = "unnamed key"
		}
		if v != nil {
			if err := checkStatement(ctx, p, attest.Statement{StatementHeader: intoto.StatementHeader{PredicateType: f.PredicateType}, Predicate: predicateOf(p, f.PredicateType)}, []Found{f}, v); err == nil {
				s.Key, s.Verified = v.Path+" ("+v.ID+")", true
			}
		}
		out = append(out, s)
	}
	return out
}

func predicateOf(p attest.Platform, predicateType string) []byte {
	for _, st := range p.Statements {
		if st.PredicateType == predicateType {
			return st.Predicate
		}
	}
	return nil
}
