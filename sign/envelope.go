package sign

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/secure-build/secure-build/attest"
)

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = attest.MediaTypeInToto

// Sign signs statement (an in-toto statement, JSON) as a DSSE envelope.
func (s *Signer) Sign(ctx context.Context, statement []byte) (*dsse.Envelope, error) {
	es, err := dsse.NewEnvelopeSigner(&sigdsse.SignerAdapter{SignatureSigner: s.sv})
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, PayloadType, statement)
	if err != nil {
		return nil, fmt.Errorf("sign with %s: %w", s.ID, err)
	}
	return env, nil
}

// Open checks env's signature with the key and returns the in-toto
// statement it signs.
func (v *Verifier) Open(ctx context.Context, env *dsse.Envelope) (attest.Statement, error) {
	var st attest.Statement
	if env.PayloadType != PayloadType {
		return st, fmt.Errorf("DSSE payload type %q, not an in-toto statement (%s)", env.PayloadType, PayloadType)
	}
	ev, err := dsse.NewEnvelopeVerifier(&sigdsse.VerifierAdapter{SignatureVerifier: v.v})
	if err != nil {
		return st, err
	}
	_, payload, err := ev.VerifyAndDecode(ctx, env)
	if err != nil {
		return st, fmt.Errorf("signature does not verify with %s: %w", v.Path, err)
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return st, fmt.Errorf("signed payload is not an in-toto statement: %w", err)
	}
	return st, nil
}

// Statement is the statement secure-build signs for a platform: st's
// predicate, its subject the platform's image manifest (name is its
// repository) and, for an image index, the index too, so that cosign and
// Kyverno find it whether they are given the index or the platform's
// manifest.
func Statement(st attest.Statement, name string, subjects ...v1.Hash) ([]byte, error) {
	out := attest.NewStatement(st.PredicateType, st.Predicate)
	for _, d := range subjects {
		if slices.ContainsFunc(out.Subject, func(s intoto.Subject) bool { return s.Digest[d.Algorithm] == d.Hex }) {
			continue
		}
		out.Subject = append(out.Subject, intoto.Subject{Name: name, Digest: map[string]string{d.Algorithm: d.Hex}})
	}
	return json.Marshal(out)
}

// decodeStatement reads an envelope's payload without checking its
// signature: for inspect, which shows what is signed and by which key hint.
func decodeStatement(env *dsse.Envelope) (attest.Statement, error) {
	var st attest.Statement
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return st, fmt.Errorf("not an in-toto statement: %w", err)
	}
	return st, nil
}

// Signable are the statements secure-build signs and checks: its SBOM,
// scan result and OpenVEX. BuildKit's provenance is BuildKit's to vouch
// for; it is read (attest.Read) but not signed.
func Signable(statements []attest.Statement) []attest.Statement {
	var out []attest.Statement
	for _, st := range statements {
		switch st.PredicateType {
		case attest.SPDXPredicateType, attest.VulnPredicateType, attest.OpenVEXPredicateType:
			out = append(out, st)
		}
	}
	return out
}
