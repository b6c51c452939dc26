package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/result"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// VulnPredicateType is the cosign vulnerability predicate, which Trivy also
// writes; the scan result travels in it.
const VulnPredicateType = "https://cosign.sigstore.dev/attestation/vuln/v1"

const vulnFile = "scan.vuln.json"

// vulnPredicate is the cosign vulnerability predicate
// (https://github.com/sigstore/cosign/blob/main/specs/COSIGN_VULN_ATTESTATION_SPEC.md).
// Written by hand: the only library with these types is cosign itself.
// db.updated, db.age and verdict are secure-build's additions.
type vulnPredicate struct {
	Invocation vulnInvocation `json:"invocation"`
	Scanner    vulnScanner    `json:"scanner"`
	Metadata   vulnMetadata   `json:"metadata"`
}

type vulnInvocation struct {
	Parameters []string `json:"parameters"`
	URI        string   `json:"uri"`
	EventID    string   `json:"event_id"`
	BuilderID  string   `json:"builder.id"`
}

type vulnScanner struct {
	URI     string          `json:"uri"`
	Version string          `json:"version"`
	DB      vulnDB          `json:"db"`
	Result  json.RawMessage `json:"result"`
}

type vulnDB struct {
	URI string `json:"uri"`
	// Version is when the oldest archive was last imported.
	Version string               `json:"version"`
	Updated map[string]time.Time `json:"updated"`
	Age     string               `json:"age"`
}

type vulnMetadata struct {
	ScanStartedOn  time.Time   `json:"scanStartedOn"`
	ScanFinishedOn time.Time   `json:"scanFinishedOn"`
	Verdict        vulnVerdict `json:"verdict"`
}

type vulnVerdict struct {
	Pass      bool      `json:"pass"`
	Threshold string    `json:"threshold"`
	DecidedOn time.Time `json:"decidedOn"`
}

// attach adds a passing platform's attestations: the step's SPDX documents
// as they are (named sbom.spdx.json with sbom-core, so the exporter adds each
// file's layer and the daemon does not scan again), and the scan result,
// made on this build by llb.Mkfile so that it is never a cached one.
func attach(ctx context.Context, rb *dockerui.ResultBuilder, platform string, out *stepOutput, scan PlatformScan, verdict client.Reference) error {
	rb.AddAttestation(platform, client.Attestation{
		Kind: gwpb.AttestationKind_InToto,
		Ref:  out.ref,
		Path: "/" + sbomFile,
		Metadata: map[string][]byte{
			result.AttestationReasonKey: []byte(result.AttestationReasonSBOM),
			result.AttestationSBOMCore:  []byte("sbom"),
		},
		InToto: result.InTotoAttestation{PredicateType: intoto.PredicateSPDX},
	})
	for _, extra := range out.extras {
		rb.AddAttestation(platform, client.Attestation{
			Kind:     gwpb.AttestationKind_InToto,
			Ref:      out.ref,
			Path:     "/" + extra,
			Metadata: map[string][]byte{result.AttestationReasonKey: []byte(result.AttestationReasonSBOM)},
			InToto:   result.InTotoAttestation{PredicateType: intoto.PredicateSPDX},
		})
	}

	rb.AddAttestation(platform, client.Attestation{
		Kind:   gwpb.AttestationKind_InToto,
		Ref:    verdict,
		Path:   "/" + vulnFile,
		InToto: result.InTotoAttestation{PredicateType: VulnPredicateType},
	})
	if len(policy.NotAffected(scan.Report.Verdict)) > 0 {
		rb.AddAttestation(platform, client.Attestation{
			Kind:   gwpb.AttestationKind_InToto,
			Ref:    verdict,
			Path:   "/" + openVEXFile,
			InToto: result.InTotoAttestation{PredicateType: OpenVEXPredicateType},
		})
	}
	return nil
}

// OpenVEXPredicateType is the in-toto predicate type of the OpenVEX
// attestation, as buildx and Docker Scout name it.
const OpenVEXPredicateType = "https://openvex.dev/ns/v0.2.0"

const openVEXFile = "openvex.json"

// verdictVertex makes the scan result on this build (llb.Mkfile, so that it
// is never a cached one) in a vertex named with the verdict and the counts,
// and runs it now: the progress output shows it whether the policy passed
// or not.
func verdictVertex(ctx context.Context, c client.Client, platform string, out *stepOutput, scan PlatformScan) (client.Reference, error) {
	pred, err := scanPredicate(out, scan)
	if err != nil {
		return nil, err
	}
	fa := llb.Mkfile("/"+vulnFile, 0o644, pred)
	if doc := report.OpenVEX(scan.Report.Verdict, "secure-build "+scan.Report.ToolVersion, time.Now().UTC()); doc != nil {
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("encode the OpenVEX document: %w", err)
		}
		fa = fa.Mkfile("/"+openVEXFile, 0o644, b)
	}
	st := llb.Scratch().File(fa,
		llb.WithCustomNamef("[secure-build %s] %s; %s", platform, report.VerdictLine(scan.Report), report.Summary(scan.Report.Findings)))
	return solve(ctx, c, st, "the scan result", client.SolveRequest{Evaluate: true})
}

func scanPredicate(out *stepOutput, scan PlatformScan) ([]byte, error) {
	var rep bytes.Buffer
	if err := report.WriteJSON(&rep, scan.Report); err != nil {
		return nil, fmt.Errorf("encode the scan result: %w", err)
	}
	oldest := vuln.OldestUpdate(out.result.Updated)
	p := vulnPredicate{
		Invocation: vulnInvocation{Parameters: []string{}},
		Scanner: vulnScanner{
			URI:     "https://github.com/secure-build/secure-build",
			Version: scan.Report.ToolVersion,
			DB: vulnDB{
				URI:     "https://osv.dev",
				Version: oldest.UTC().Format(time.RFC3339),
				Updated: out.result.Updated,
				Age:     scan.DatabaseAge.Round(time.Second).String(),
			},
			Result: rep.Bytes(),
		},
		Metadata: vulnMetadata{
			ScanStartedOn:  out.result.StartedAt,
			ScanFinishedOn: out.result.EndedAt,
			Verdict: vulnVerdict{
				Pass:      scan.Report.Verdict.Pass,
				Threshold: scan.Report.Verdict.Threshold,
				DecidedOn: time.Now().UTC(),
			},
		},
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode the scan result: %w", err)
	}
	return b, nil
}
