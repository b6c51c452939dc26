package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// SchemaVersion is the version of the JSON report's schema
// (report/schema/report.schema.json), MAJOR.MINOR: MINOR grows when fields
// are added, MAJOR when one changes meaning or goes away.
const SchemaVersion = "1.2"

// The JSON report's own types, apart from vuln's and sbom's, so that a change
// there cannot change the documented document unnoticed. Every field is
// always written: a consumer never has to tell "absent" from "empty".
type (
	jsonReport struct {
		SchemaVersion string        `json:"schemaVersion"`
		Target        string        `json:"target"`
		ScannedAt     string        `json:"scannedAt"`
		Tool          jsonTool      `json:"tool"`
		Database      jsonDatabase  `json:"database"`
		Distro        *jsonDistro   `json:"distro"`
		Summary       jsonSummary   `json:"summary"`
		Verdict       jsonVerdict   `json:"verdict"`
		Findings      []jsonFinding `json:"findings"`
	}
	jsonTool struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	jsonDatabase struct {
		Dir     string            `json:"dir"`
		Updated map[string]string `json:"updated"`
		Stale   string            `json:"stale"`
	}
	jsonDistro struct {
		ID              string `json:"id"`
		VersionID       string `json:"versionID"`
		VersionCodename string `json:"versionCodename"`
		PrettyName      string `json:"prettyName"`
	}
	jsonCounts struct {
		Total   int `json:"total"`
		Fixable int `json:"fixable"`
	}
	jsonSummary struct {
		Total    int        `json:"total"`
		Fixable  int        `json:"fixable"`
		Critical jsonCounts `json:"critical"`
		High     jsonCounts `json:"high"`
		Medium   jsonCounts `json:"medium"`
		Low      jsonCounts `json:"low"`
		Unknown  jsonCounts `json:"unknown"`
	}
	jsonVerdict struct {
		Pass       bool                  `json:"pass"`
		Status     string                `json:"status"`
		Threshold  jsonThreshold         `json:"threshold"`
		Failing    []string              `json:"failing"`
		Suppressed []jsonSuppressed      `json:"suppressed"`
		Violations []jsonViolation       `json:"violations"`
		Notes      []string              `json:"notes"`
		Incomplete []sbom.Incompleteness `json:"incomplete"`
	}
	jsonSuppressed struct {
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
	jsonViolation struct {
		Rule    string `json:"rule"`
		Action  string `json:"action"`
		Message string `json:"message"`
		File    string `json:"file"`
		Line    int    `json:"line"`
	}
	jsonThreshold struct {
		FailOn      string `json:"failOn"`
		OnlyFixable bool   `json:"onlyFixable"`
		Description string `json:"description"`
	}
	jsonFinding struct {
		ID             string        `json:"id"`
		Aliases        []string      `json:"aliases"`
		Upstream       []string      `json:"upstream"`
		Package        jsonPackage   `json:"package"`
		FixedVersion   string        `json:"fixedVersion"`
		Fixable        bool          `json:"fixable"`
		Severity       vuln.Severity `json:"severity"`
		Score          float64       `json:"score"`
		SeveritySource string        `json:"severitySource"`
		Summary        string        `json:"summary"`
	}
	jsonPackage struct {
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

func newJSONReport(s *Scan) jsonReport {
	r := jsonReport{
		SchemaVersion: SchemaVersion,
		Target:        s.Target,
		ScannedAt:     s.ScannedAt.UTC().Format(time.RFC3339),
		Tool:          jsonTool{Name: toolName, Version: s.ToolVersion},
		Database: jsonDatabase{
			Dir:     s.Database.Dir,
			Updated: make(map[string]string, len(s.Database.Updated)),
			Stale:   s.Database.Stale,
		},
		Verdict: jsonVerdict{
			Pass:   s.Verdict.Pass,
			Status: s.Verdict.Status(),
			Threshold: jsonThreshold{
				FailOn:      s.Threshold.FailOn.String(),
				OnlyFixable: s.Threshold.OnlyFixable,
				Description: s.Verdict.Threshold,
			},
			Failing:    failingIDs(s.Verdict),
			Suppressed: make([]jsonSuppressed, 0, len(s.Verdict.Suppressed)),
			Violations: make([]jsonViolation, 0, len(s.Verdict.Violations)),
			Notes:      append([]string{}, s.Verdict.Notes...),
			Incomplete: append([]sbom.Incompleteness{}, s.Verdict.Incomplete...),
		},
		Findings: make([]jsonFinding, 0, len(s.Findings)),
	}
	for _, x := range s.Verdict.Suppressed {
		f := x.Finding
		r.Verdict.Suppressed = append(r.Verdict.Suppressed, jsonSuppressed{
			ID: f.ID, Package: f.Package.Name, Version: f.Package.Version, PURL: f.Package.PURL,
			By: x.By, Status: x.Status, Justification: x.Justification, Reason: x.Reason, Source: x.Source,
		})
	}
	for _, x := range s.Verdict.Violations {
		r.Verdict.Violations = append(r.Verdict.Violations, jsonViolation{Rule: x.Rule, Action: string(x.Action), Message: x.Message, File: x.File, Line: x.Line})
	}
	for eco, t := range s.Database.Updated {
		r.Database.Updated[eco] = t.UTC().Format(time.RFC3339)
	}
	if s.SBOM != nil && s.SBOM.Distro != nil {
		d := s.SBOM.Distro
		r.Distro = &jsonDistro{ID: d.ID, VersionID: d.VersionID, VersionCodename: d.VersionCodename, PrettyName: d.PrettyName}
	}
	t := count(s.Findings)
	c := func(sev vuln.Severity) jsonCounts {
		return jsonCounts{Total: t.bySeverity[sev].total, Fixable: t.bySeverity[sev].fixable}
	}
	r.Summary = jsonSummary{
		Total: t.all.total, Fixable: t.all.fixable,
		Critical: c(vuln.Critical), High: c(vuln.High), Medium: c(vuln.Medium), Low: c(vuln.Low), Unknown: c(vuln.Unknown),
	}
	for _, f := range vuln.Sorted(s.Findings) {
		r.Findings = append(r.Findings, jsonFinding{
			ID:       f.ID,
			Aliases:  nonNil(f.Aliases),
			Upstream: nonNil(f.Upstream),
			Package: jsonPackage{
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
		})
	}
	return r
}

// nonNil makes a missing list an empty one, written as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
