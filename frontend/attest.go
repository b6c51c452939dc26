package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/result"
	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/scanstep"
)

const vulnFile = "scan.vuln.json"

// attach adds a passing platform's attestations: the step's SPDX documents
// as they are, and the scan result, made on this build by llb.Mkfile so
// that it is never a cached one. The final stage's SBOM carries no sbom-core
// metadata: with it the exporter decodes and re-encodes the document on
// every export to add each listed file's layer, and ours lists packages,
// not files, so that would add nothing but time.
func attach(ctx context.Context, rb *dockerui.ResultBuilder, platform string, out *stepOutput, scan PlatformScan, verdict client.Reference) error {
	rb.AddAttestation(platform, client.Attestation{
		Kind:     gwpb.AttestationKind_InToto,
		Ref:      out.ref,
		Path:     "/" + scanstep.SBOMFile,
		Metadata: map[string][]byte{result.AttestationReasonKey: []byte(result.AttestationReasonSBOM)},
		InToto:   result.InTotoAttestation{PredicateType: attest.SPDXPredicateType},
	})
	for _, extra := range out.extras {
		rb.AddAttestation(platform, client.Attestation{
			Kind:     gwpb.AttestationKind_InToto,
			Ref:      out.ref,
			Path:     "/" + extra,
			Metadata: map[string][]byte{result.AttestationReasonKey: []byte(result.AttestationReasonSBOM)},
			InToto:   result.InTotoAttestation{PredicateType: attest.SPDXPredicateType},
		})
	}

	rb.AddAttestation(platform, client.Attestation{
		Kind:   gwpb.AttestationKind_InToto,
		Ref:    verdict,
		Path:   "/" + vulnFile,
		InToto: result.InTotoAttestation{PredicateType: attest.VulnPredicateType},
	})
	if len(policy.NotAffected(scan.Report.Verdict)) > 0 {
		rb.AddAttestation(platform, client.Attestation{
			Kind:   gwpb.AttestationKind_InToto,
			Ref:    verdict,
			Path:   "/" + openVEXFile,
			InToto: result.InTotoAttestation{PredicateType: attest.OpenVEXPredicateType},
		})
	}
	return nil
}

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
		// The verdict's word only: its findings and counts are said once,
		// by the build's error or its summary.
		llb.WithCustomNamef("[secure-build %s] verdict: %s", platform, scan.Report.Verdict.Status()))
	return solve(ctx, c, st, "the scan result", client.SolveRequest{Evaluate: true})
}

// scanPredicate is the platform's scan result as attached: when the step
// ran, and the verdict made on this build.
func scanPredicate(out *stepOutput, scan PlatformScan) ([]byte, error) {
	p, err := attest.NewVulnPredicate(scan.Report, out.result.StartedAt, out.result.EndedAt, scan.DatabaseAge)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode the scan result: %w", err)
	}
	return b, nil
}
