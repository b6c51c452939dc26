// Package attest is the attestation wire format: the in-toto statements
// secure-build attaches to an image, their predicate types, the
// vulnerability predicate that carries a scan result, and how BuildKit
// stores statements in an image index. It builds the statements a build
// attaches and reads them back from a registry, per platform.
package attest

import (
	"encoding/json"

	intoto "github.com/in-toto/in-toto-golang/in_toto"
)

// Predicate types of the statements secure-build attaches.
const (
	// SPDXPredicateType is the SPDX 2.3 SBOM's, the one docker buildx
	// imagetools inspect and Docker Scout read.
	SPDXPredicateType = intoto.PredicateSPDX
	// VulnPredicateType is the cosign vulnerability predicate, which Trivy
	// also writes; the scan result travels in it.
	VulnPredicateType = "https://cosign.sigstore.dev/attestation/vuln/v1"
	// OpenVEXPredicateType is the OpenVEX document of the suppressed
	// findings, as buildx and Docker Scout name it.
	OpenVEXPredicateType = "https://openvex.dev/ns/v0.2.0"
)

// How BuildKit stores attestations in an image index: one attestation
// manifest a platform, its index entry annotated with the reference type
// and the digest of the image manifest it speaks of; each of its layers an
// in-toto statement, annotated with its predicate type.
const (
	AnnotationReferenceType   = "vnd.docker.reference.type"
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	ReferenceTypeAttestation  = "attestation-manifest"
	AnnotationPredicateType   = "in-toto.io/predicate-type"
	MediaTypeInToto           = "application/vnd.in-toto+json"
)

// Statement is an in-toto statement as BuildKit stores it in a layer and
// as an SBOM generator writes it. The predicate stays bytes: each type has
// its reader, and the SPDX document is passed on as attached.
type Statement struct {
	intoto.StatementHeader
	Predicate json.RawMessage `json:"predicate"`
}

// NewStatement is an in-toto v0.1 statement of predicate with no subject:
// BuildKit names the image as the subject when it attaches the statement.
func NewStatement(predicateType string, predicate []byte) Statement {
	return Statement{
		StatementHeader: intoto.StatementHeader{Type: intoto.StatementInTotoV01, PredicateType: predicateType},
		Predicate:       predicate,
	}
}
