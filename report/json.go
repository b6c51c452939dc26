package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// SchemaVersion is the version of the JSON report's schema
// (report/schema/report.schema.json), MAJOR.MINOR: MINOR grows when fields
// are added, MAJOR when one changes meaning or goes away.
const SchemaVersion = "1.3"

// The JSON report's own types, apart from vuln's and sbom's, so that a change
// there cannot change the documented document unnoticed. Every field is
// always written: a consumer never has to tell "absent" from "empty".
// Exported for the readers of a report made elsewhere (the scan result
// attached to an image), which decode it with these same types.
type (
	JSONReport struct {
		SchemaVersion string        `json:"schemaVersion"`
		Target        string        `json:"target"`
		ScannedAt     string        `json:"scannedAt"`
		Tool          JSONTool      `json:"tool"`
		Database      JSONDatabase  `json:"database"`
		Distro        *JSONDistro   `json:"distro"`
		Summary       JSONSummary   `json:"summary"`
		Verdict       JSONVerdict   `json:"verdict"`
		Findings      []JSONFinding `json:"findings"`
	}
	JSONTool struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	JSONDatabase struct {
		Dir     string            `json:"dir"`
		Updated map[string]string `json:"updated"`
		Stale   string            `json:"stale"`
	}
	JSONDistro struct {
		ID              string `json:"id"`
		VersionID       string `json:"versionID"`
		VersionCodename string `json:"versionCodename"`
		PrettyName      string `json:"prettyName"`
	}
	JSONCounts struct {
		Total   int `json:"total"`
		Fixable int `json:"fixable"`
	}
	JSONSummary struct {
		Total    int        `json:"total"`
		Fixable  int        `json:"fixable"`
		Critical JSONCounts `json:"critical"`
		High     JSONCounts `json:"high"`
		Medium   JSONCounts `json:"medium"`
		Low      JSONCounts `json:"low"`
		Unknown  JSONCounts `json:"unknown"`
		// Origins count the findings by where they came from.
		Origins JSONOriginCounts `json:"origins"`
	}
	JSONOriginCounts struct {
		Inherited    int `json:"inherited"`
		Added        int `json:"added"`
		Unattributed int `json:"unattributed"`
		// Text is OriginLine: what the verdict says of them.
		Text string `json:"text"`
	}
	JSONVerdict struct {
		Pass       bool                  `json:"pass"`
		Status     string                `json:"status"`
		Threshold  JSONThreshold         `json:"threshold"`
		Failing    []string              `json:"failing"`
		Suppressed []JSONSuppressed      `json:"suppressed"`
		Violations []JSONViolation       `json:"violations"`
		Notes      []string              `json:"notes"`
		Incomplete []sbom.Incompleteness `json:"incomplete"`
	}
	JSONSuppressed struct {
		ID            string `json:"id"`
		Package       string `json:"package"`
		Version       string `json:"version"`
		PURL          string `json:"purl"`
		By            string `json:"by"`
		Status        string `json:"status"`
		Justification string `json:"justification"`
		Reason        string `json:"reason"`
		Source        string `json:"source"`
	}
	JSONViolation struct {
		Rule    string `json:"rule"`
		Action  string `json:"action"`
		Message string `json:"message"`
		File    string `json:"file"`
		Line    int    `json:"line"`
	}
	JSONThreshold struct {
		FailOn      string `json:"failOn"`
		OnlyFixable bool   `json:"onlyFixable"`
		Scope       string `json:"scope"`
		Description string `json:"description"`
	}
	JSONFinding struct {
		ID             string        `json:"id"`
		Aliases        []string      `json:"aliases"`
		Upstream       []string      `json:"upstream"`
		Package        JSONPackage   `json:"package"`
		FixedVersion   string        `json:"fixedVersion"`
		Fixable        bool          `json:"fixable"`
		Severity       vuln.Severity `json:"severity"`
		Score          float64       `json:"score"`
		SeveritySource string        `json:"severitySource"`
		Summary        string        `json:"summary"`
		Origins        []JSONOrigin  `json:"origins"`
	}
	// JSONOrigin is origin.Origin, every field written; layer is null when
	// the origin is not a layer.
	JSONOrigin struct {
		Kind        string `json:"kind"`
		Image       string `json:"image"`
		Digest      string `json:"digest"`
		File        string `json:"file"`
		StartLine   int    `json:"startLine"`
		EndLine     int    `json:"endLine"`
		Instruction string `json:"instruction"`
		Stage       string `json:"stage"`
		CopiedFrom  string `json:"copiedFrom"`
		Layer       *int   `json:"layer"`
		DiffID      string `json:"diffID"`
		CreatedBy   string `json:"createdBy"`
		Approximate bool   `json:"approximate"`
		Reason      string `json:"reason"`
	}
	JSONPackage struct {
		Name         string   `json:"name"`
		Version      string   `json:"version"`
		PURL         string   `json:"purl"`
		Locations    []string `json:"locations"`
		Ecosystem    string   `json:"ecosystem"`
		MatchName    string   `json:"matchName"`
		MatchVersion string   `json:"matchVersion"`
	}
)

// WriteJSON writes the JSON report: every finding in report order, the
// counts, the verdict and the facts of the scan.
func WriteJSON(w io.Writer, s *Scan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Summaries quote code ("<", "&"); the report is not embedded in HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(newJSONReport(s)); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

func newJSONReport(s *Scan) JSONReport {
	r := JSONReport{
		SchemaVersion: SchemaVersion,
		Target:        s.Target,
		ScannedAt:     s.ScannedAt.UTC().Format(time.RFC3339),
		Tool:          JSONTool{Name: toolName, Version: s.ToolVersion},
		Database: JSONDatabase{
			Dir:     s.Database.Dir,
			Updated: make(map[string]string, len(s.Database.Updated)),
			Stale:   s.Database.Stale,
		},
		Verdict: JSONVerdict{
			Pass:   s.Verdict.Pass,
			Status: s.Verdict.Status(),
			Threshold: JSONThreshold{
				FailOn:      s.Threshold.FailOn.String(),
				OnlyFixable: s.Threshold.OnlyFixable,
				Scope:       string(cmp.Or(s.Threshold.Scope, policy.ScopeAll)),
				Description: s.Verdict.Threshold,
			},
			Failing:    failingIDs(s.Verdict),
			Suppressed: make([]JSONSuppressed, 0, len(s.Verdict.Suppressed)),
			Violations: make([]JSONViolation, 0, len(s.Verdict.Violations)),
			Notes:      append([]string{}, s.Verdict.Notes...),
			Incomplete: append([]sbom.Incompleteness{}, s.Verdict.Incomplete...),
		},
		Findings: make([]JSONFinding, 0, len(s.Findings)),
	}
	for _, x := range s.Verdict.Suppressed {
		f := x.Finding
		r.Verdict.Suppressed = append(r.Verdict.Suppressed, JSONSuppressed{
			ID: f.ID, Package: f.Package.Name, Version: f.Package.Version, PURL: f.Package.PURL,
			By: x.By, Status: x.Status, Justification: x.Justification, Reason: x.Reason, Source: x.Source,
		})
	}
	for _, x := range s.Verdict.Violations {
		r.Verdict.Violations = append(r.Verdict.Violations, JSONViolation{Rule: x.Rule, Action: string(x.Action), Message: x.Message, File: x.File, Line: x.Line})
	}
	for eco, t := range s.Database.Updated {
		r.Database.Updated[eco] = t.UTC().Format(time.RFC3339)
	}
	if s.SBOM != nil && s.SBOM.Distro != nil {
		d := s.SBOM.Distro
		r.Distro = &JSONDistro{ID: d.ID, VersionID: d.VersionID, VersionCodename: d.VersionCodename, PrettyName: d.PrettyName}
	}
	t := count(s.Findings)
	c := func(sev vuln.Severity) JSONCounts {
		return JSONCounts{Total: t.bySeverity[sev].total, Fixable: t.bySeverity[sev].fixable}
	}
	r.Summary = JSONSummary{
		Total: t.all.total, Fixable: t.all.fixable,
		Critical: c(vuln.Critical), High: c(vuln.High), Medium: c(vuln.Medium), Low: c(vuln.Low), Unknown: c(vuln.Unknown),
	}
	if oc, ok := CountOrigins(s.Findings); ok {
		r.Summary.Origins = JSONOriginCounts{Inherited: oc.Inherited, Added: oc.Added, Unattributed: oc.Unattributed, Text: OriginLine(s.Findings)}
	}
	for _, f := range vuln.Sorted(s.Findings) {
		r.Findings = append(r.Findings, JSONFinding{
			ID:       f.ID,
			Aliases:  nonNil(f.Aliases),
			Upstream: nonNil(f.Upstream),
			Package: JSONPackage{
				Name:         f.Package.Name,
				Version:      f.Package.Version,
				PURL:         f.Package.PURL,
				Locations:    nonNil(f.Package.Locations),
				Ecosystem:    f.Package.Ecosystem,
				MatchName:    f.Package.MatchName,
				MatchVersion: f.Package.MatchVersion,
			},
			FixedVersion:   f.FixedVersion,
			Fixable:        f.Fixable(),
			Severity:       f.Severity,
			Score:          f.Score,
			SeveritySource: f.SeveritySource,
			Summary:        f.Summary,
			Origins:        jsonOrigins(f.Package.Origins),
		})
	}
	return r
}

// Finding is the finding as vuln.Finding holds it, for what reads a report
// back: every field the report keeps.
func (f JSONFinding) Finding() vuln.Finding {
	return vuln.Finding{
		ID:       f.ID,
		Aliases:  f.Aliases,
		Upstream: f.Upstream,
		Package: vuln.Package{
			Name:         f.Package.Name,
			Version:      f.Package.Version,
			PURL:         f.Package.PURL,
			Locations:    f.Package.Locations,
			Ecosystem:    f.Package.Ecosystem,
			MatchName:    f.Package.MatchName,
			MatchVersion: f.Package.MatchVersion,
			Origins:      f.origins(),
		},
		FixedVersion:   f.FixedVersion,
		Severity:       f.Severity,
		Score:          f.Score,
		SeveritySource: f.SeveritySource,
		Summary:        f.Summary,
	}
}

func jsonOrigins(origins []origin.Origin) []JSONOrigin {
	out := make([]JSONOrigin, len(origins))
	for i, o := range origins {
		out[i] = JSONOrigin{
			Kind: string(o.Kind), Image: o.Image, Digest: o.Digest,
			File: o.File, StartLine: o.StartLine, EndLine: o.EndLine, Instruction: o.Instruction,
			Stage: o.Stage, CopiedFrom: o.CopiedFrom,
			Layer: o.Layer, DiffID: o.DiffID, CreatedBy: o.CreatedBy,
			Approximate: o.Approximate, Reason: o.Reason,
		}
	}
	return out
}

// origins are the finding's origins as origin.Origin holds them; nil for
// a report written before they were (schema 1.2 and older).
func (f JSONFinding) origins() []origin.Origin {
	if len(f.Origins) == 0 {
		return nil
	}
	out := make([]origin.Origin, len(f.Origins))
	for i, o := range f.Origins {
		out[i] = origin.Origin{
			Kind: origin.Kind(o.Kind), Image: o.Image, Digest: o.Digest,
			File: o.File, StartLine: o.StartLine, EndLine: o.EndLine, Instruction: o.Instruction,
			Stage: o.Stage, CopiedFrom: o.CopiedFrom,
			Layer: o.Layer, DiffID: o.DiffID, CreatedBy: o.CreatedBy,
			Approximate: o.Approximate, Reason: o.Reason,
		}
	}
	return out
}

// Violation is the rule broken as policy.Violation holds it.
func (v JSONViolation) Violation() policy.Violation {
	return policy.Violation{Rule: v.Rule, Action: policy.Action(v.Action), Message: v.Message, File: v.File, Line: v.Line}
}

// nonNil makes a missing list an empty one, written as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
