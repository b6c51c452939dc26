package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/registry"
)

// Where cosign and Sigstore's clients look for signed attestations, and how
// they mark them.
const (
	// MediaTypeDSSE is a layer of cosign's attestation tag: one DSSE envelope.
	MediaTypeDSSE = "application/vnd.dsse.envelope.v1+json"
	// AnnotationCosignSignature marks a layer of a cosign signature or
	// attestation image; empty for an attestation (the envelope holds it).
	AnnotationCosignSignature = "dev.cosignproject.cosign/signature"
	// AnnotationPredicateType is the predicate type of a layer of cosign's
	// attestation tag.
	AnnotationPredicateType = "predicateType"
	// MediaTypeBundle is a Sigstore bundle v0.3, the artifact type of its
	// referrer manifest and the media type of its one layer.
	MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// The annotations of a bundle's referrer manifest, as cosign v3 writes.
	AnnotationBundleContent       = "dev.sigstore.bundle.content"
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
	annotationCreated             = "org.opencontainers.image.created"
	// mediaTypeEmpty is the OCI 1.1 empty descriptor's media type, the config
	// of an artifact manifest; emptyJSON its content.
	mediaTypeEmpty = "application/vnd.oci.empty.v1+json"
	emptyJSON      = "{}"
)

// Signed is a signed statement: its predicate type and its envelope.
type Signed struct {
	PredicateType string
	Envelope      *dsse.Envelope
}

// AttTag is cosign's attestation tag of d: sha256-<hex>.att in d's
// repository.
func AttTag(d name.Digest) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".att")
}

// publishAtt writes signed into d's cosign attestation tag. Layers already
// there of other predicate types stay; those of the types signed now are
// replaced, as cosign attest --replace does.
func publishAtt(ctx context.Context, d name.Digest, signed []Signed) error {
	tag := AttTag(d)
	replaced := map[string]bool{}
	for _, s := range signed {
		replaced[s.PredicateType] = true
	}
	var adds []mutate.Addendum
	old, err := registry.Image(ctx, tag)
	switch {
	case registry.NotFound(err):
	case err != nil:
		return err
	default:
		m, err := old.Manifest()
		if err != nil {
			return fmt.Errorf("read %s: %w", tag, err)
		}
		for _, l := range m.Layers {
			if replaced[l.Annotations[AnnotationPredicateType]] {
				continue
			}
			layer, err := old.LayerByDigest(l.Digest)
			if err != nil {
				return fmt.Errorf("read %s: %w", tag, err)
			}
			adds = append(adds, mutate.Addendum{Layer: layer, Annotations: l.Annotations, MediaType: l.MediaType})
		}
	}
	for _, s := range signed {
		b, err := json.Marshal(s.Envelope)
		if err != nil {
			return err
		}
		adds = append(adds, mutate.Addendum{
			Layer:       static.NewLayer(b, MediaTypeDSSE),
			MediaType:   MediaTypeDSSE,
			Annotations: map[string]string{AnnotationCosignSignature: "", AnnotationPredicateType: s.PredicateType},
		})
	}
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), adds...)
	if err != nil {
		return err
	}
	return registry.Write(ctx, tag, img)
}

// publishBundle writes one signed statement as a Sigstore bundle whose
// referrer manifest has subject as its subject; keyID is the key's hint.
func publishBundle(ctx context.Context, subject name.Digest, subjectDesc v1.Descriptor, keyID string, s Signed, now time.Time) (name.Digest, error) {
	b, err := Bundle(s.Envelope, keyID)
	if err != nil {
		return name.Digest{}, err
	}
	layer := static.NewLayer(b, MediaTypeBundle)
	config := static.NewLayer([]byte(emptyJSON), mediaTypeEmpty)
	ld, err := descriptorOf(layer, MediaTypeBundle)
	if err != nil {
		return name.Digest{}, err
	}
	cd, err := descriptorOf(config, mediaTypeEmpty)
	if err != nil {
		return name.Digest{}, err
	}
	manifest := struct {
		v1.Manifest
		ArtifactType string `json:"artifactType"`
	}{
		Manifest: v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			Config:        cd,
			Layers:        []v1.Descriptor{ld},
			Subject:       &v1.Descriptor{MediaType: subjectDesc.MediaType, Digest: subjectDesc.Digest, Size: subjectDesc.Size},
			Annotations: map[string]string{
				AnnotationBundleContent:       "dsse-envelope",
				AnnotationBundlePredicateType: s.PredicateType,
				annotationCreated:             now.UTC().Format(time.RFC3339),
			},
		},
		ArtifactType: MediaTypeBundle,
	}
	raw, err := json.Marshal(manifest)
	if err != nil {
		return name.Digest{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return name.Digest{}, err
	}
	ref := subject.Context().Digest(h.String())
	if err := registry.PutManifest(ctx, ref, raw, types.OCIManifestSchema1, config, layer); err != nil {
		return name.Digest{}, err
	}
	return ref, nil
}

func descriptorOf(l v1.Layer, mt types.MediaType) (v1.Descriptor, error) {
	d, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}, nil
}

// Bundle is a Sigstore bundle v0.3 of a DSSE envelope signed with a key:
// its verification material is the key's hint, with no transparency log
// entry (keyless signing is not done; see the package's comment).
func Bundle(env *dsse.Envelope, keyID string) ([]byte, error) {
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("envelope payload: %w", err)
	}
	pe := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("envelope signature: %w", err)
		}
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	b := &protobundle.Bundle{
		MediaType: MediaTypeBundle,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: keyID}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe},
	}
	return protojson.Marshal(b)
}

// envelopeOfBundle is the DSSE envelope a bundle carries, and its key hint.
func envelopeOfBundle(b []byte) (*dsse.Envelope, string, error) {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(b, &pb); err != nil {
		return nil, "", fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	if pb.GetMediaType() != MediaTypeBundle {
		return nil, "", fmt.Errorf("bundle media type %q, want %s", pb.GetMediaType(), MediaTypeBundle)
	}
	pe := pb.GetDsseEnvelope()
	if pe == nil {
		return nil, "", fmt.Errorf("bundle holds no DSSE envelope")
	}
	env := &dsse.Envelope{PayloadType: pe.PayloadType, Payload: base64.StdEncoding.EncodeToString(pe.Payload)}
	for _, s := range pe.Signatures {
		env.Signatures = append(env.Signatures, dsse.Signature{KeyID: s.Keyid, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	return env, pb.GetVerificationMaterial().GetPublicKey().GetHint(), nil
}

// Published is what Attest wrote for one subject: a platform's image
// manifest, or the index.
type Published struct {
	Subject name.Digest
	// Platform is os/arch[/variant], or "" for the index.
	Platform       string
	PredicateTypes []string
	AttTag         name.Tag
	Bundles        []name.Digest
}

// Attest signs, with s, every platform's statements that img holds (as
// attest.Read read them), each with its platform's image manifest (and the
// index) as subject, and publishes them: in each subject's cosign
// attestation tag, and as Sigstore bundle referrers of it. The index's
// own attestation tag and referrers hold every platform's. BuildKit's
// attestation manifests that name a subject (the image exporter's
// oci-artifact=true) are written again, so that a registry without the
// referrers API lists them in the referrers tag too.
func Attest(ctx context.Context, img *attest.Image, s *Signer) ([]Published, error) {
	repo := img.Ref.Context()
	isIndex := slices.ContainsFunc(img.Platforms, func(p attest.Platform) bool { return p.Image.DigestStr() != img.Digest.String() })
	now := time.Now()
	var all []Signed
	var out []Published
	for _, p := range img.Platforms {
		if len(Signable(p.Statements)) == 0 {
			continue
		}
		platformDigest, err := v1.NewHash(p.Image.DigestStr())
		if err != nil {
			return nil, err
		}
		subjects := []v1.Hash{platformDigest}
		if isIndex {
			subjects = append(subjects, img.Digest)
		}
		var signed []Signed
		for _, st := range Signable(p.Statements) {
			payload, err := Statement(st, repo.Name(), subjects...)
			if err != nil {
				return nil, err
			}
			env, err := s.Sign(ctx, payload)
			if err != nil {
				return nil, err
			}
			signed = append(signed, Signed{PredicateType: st.PredicateType, Envelope: env})
		}
		pub, err := publish(ctx, p.Image, s.ID, signed, now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		pub.Platform = p.Name
		out = append(out, pub)
		all = append(all, signed...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no secure-build attestations to sign: build and push it with 'docker secure build --push'", img.Ref)
	}
	if isIndex {
		pub, err := publish(ctx, repo.Digest(img.Digest.String()), s.ID, all, now)
		if err != nil {
			return nil, fmt.Errorf("the index: %w", err)
		}
		out = append(out, pub)
		if err := relistAttestationManifests(ctx, repo.Digest(img.Digest.String())); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// publish writes signed for subject d: its attestation tag and a bundle
// referrer a statement.
func publish(ctx context.Context, d name.Digest, keyID string, signed []Signed, now time.Time) (Published, error) {
	pub := Published{Subject: d, AttTag: AttTag(d)}
	desc, err := registry.Get(ctx, d)
	if err != nil {
		return pub, err
	}
	if err := publishAtt(ctx, d, signed); err != nil {
		return pub, err
	}
	for _, s := range signed {
		ref, err := publishBundle(ctx, d, desc.Descriptor, keyID, s, now)
		if err != nil {
			return pub, err
		}
		pub.Bundles = append(pub.Bundles, ref)
		pub.PredicateTypes = append(pub.PredicateTypes, s.PredicateType)
	}
	return pub, nil
}

// relistAttestationManifests writes again, unchanged, the attestation
// manifests of index that have a subject: the write lists them in their
// subject's referrers tag where the registry has no referrers API (BuildKit's
// push does not), and changes nothing where it has one.
func relistAttestationManifests(ctx context.Context, index name.Digest) error {
	desc, err := registry.Get(ctx, index)
	if err != nil {
		return err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return fmt.Errorf("read the index %s: %w", index, err)
	}
	for _, m := range im.Manifests {
		if m.Annotations[attest.AnnotationReferenceType] != attest.ReferenceTypeAttestation {
			continue
		}
		ref := index.Context().Digest(m.Digest.String())
		am, err := registry.Get(ctx, ref)
		if err != nil {
			return err
		}
		var withSubject struct {
			Subject *v1.Descriptor `json:"subject"`
		}
		if err := json.Unmarshal(am.Manifest, &withSubject); err != nil {
			return fmt.Errorf("attestation manifest %s: %w", ref, err)
		}
		if withSubject.Subject == nil {
			continue
		}
		if err := registry.PutManifest(ctx, ref, am.Manifest, am.MediaType); err != nil {
			return err
		}
	}
	return nil
}
