package report

import (
	"fmt"
	"time"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

// OpenVEX is the OpenVEX document of a verdict's not_affected suppressions,
// VEX statements and ignore entries both, for an attestation: consumers of
// the image see which findings were set aside and why. Each statement's
// product is the package, by purl: the attestation's subject is the image.
// Nil when nothing was suppressed as not_affected.
func OpenVEX(v policy.Verdict, author string, now time.Time) *vex.VEX {
	var statements []vex.Statement
	for _, s := range policy.NotAffected(v) {
		st := vex.Statement{
			Vulnerability:   vex.Vulnerability{Name: vex.VulnerabilityID(s.Finding.ID), Aliases: aliases(s.Finding)},
			Products:        []vex.Product{{Component: vex.Component{ID: s.Finding.Package.PURL}}},
			Status:          vex.StatusNotAffected,
			Justification:   vex.Justification(s.Justification),
			ImpactStatement: s.Reason,
			StatusNotes:     fmt.Sprintf("suppressed by %s (%s)", s.By, s.Source),
		}
		if st.Justification == "" && st.ImpactStatement == "" {
			st.ImpactStatement = "suppressed by " + s.Source
		}
		statements = append(statements, st)
	}
	if len(statements) == 0 {
		return nil
	}
	doc := vex.New()
	doc.Author = author
	doc.Timestamp = &now
	doc.Version = 1
	doc.Statements = statements
	id, err := doc.GenerateCanonicalID()
	if err == nil {
		doc.ID = id
	}
	return &doc
}

func aliases(f vuln.Finding) []vex.VulnerabilityID {
	var out []vex.VulnerabilityID
	for _, id := range f.IDs()[1:] {
		out = append(out, vex.VulnerabilityID(id))
	}
	return out
}
