package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// VulnPredicate is the cosign vulnerability predicate
// (https://github.com/sigstore/cosign/blob/main/specs/COSIGN_VULN_ATTESTATION_SPEC.md).
// Written by hand: the only library with these types is cosign itself.
// scanner.result is secure-build's JSON report (report/json.go);
// scanner.db.updated, scanner.db.age and metadata.verdict are secure-build's
// additions.
type VulnPredicate struct {
	Invocation VulnInvocation `json:"invocation"`
	Scanner    VulnScanner    `json:"scanner"`
	Metadata   VulnMetadata   `json:"metadata"`
}

// VulnInvocation is how the scan was started; secure-build leaves it empty.
type VulnInvocation struct {
	Parameters []string `json:"parameters"`
	URI        string   `json:"uri"`
	EventID    string   `json:"event_id"`
	BuilderID  string   `json:"builder.id"`
}

// VulnScanner is the scanner, its database and what it found.
type VulnScanner struct {
	URI     string          `json:"uri"`
	Version string          `json:"version"`
	DB      VulnDB          `json:"db"`
	Result  json.RawMessage `json:"result"`
}

// VulnDB is the vulnerability data the scan matched against.
type VulnDB struct {
	URI string `json:"uri"`
	// Version is when the oldest archive was last imported.
	Version string               `json:"version"`
	Updated map[string]time.Time `json:"updated"`
	Age     string               `json:"age"`
}

// VulnMetadata is when the scan ran and the verdict made on it.
type VulnMetadata struct {
	ScanStartedOn  time.Time   `json:"scanStartedOn"`
	ScanFinishedOn time.Time   `json:"scanFinishedOn"`
	Verdict        VulnVerdict `json:"verdict"`
}

// VulnVerdict is the policy's verdict on the scan, made on every build.
type VulnVerdict struct {
	Pass      bool      `json:"pass"`
	Threshold string    `json:"threshold"`
	DecidedOn time.Time `json:"decidedOn"`
}

// NewVulnPredicate is the predicate of a build's scan: its report as the
// result, when the scan ran (started, finished: a cached scan's are those
// of the build that ran it), how old the database was when the verdict was
// made, and now as when it was made.
func NewVulnPredicate(r *report.Scan, started, finished time.Time, databaseAge time.Duration) (VulnPredicate, error) {
	var rep bytes.Buffer
	if err := report.WriteJSON(&rep, r); err != nil {
		return VulnPredicate{}, fmt.Errorf("encode the scan result: %w", err)
	}
	oldest := vuln.OldestUpdate(r.Database.Updated)
	return VulnPredicate{
		Invocation: VulnInvocation{Parameters: []string{}},
		Scanner: VulnScanner{
			URI:     "https://github.com/secure-build/secure-build",
			Version: r.ToolVersion,
			DB: VulnDB{
				URI:     "https://osv.dev",
				Version: oldest.UTC().Format(time.RFC3339),
				Updated: r.Database.Updated,
				Age:     databaseAge.Round(time.Second).String(),
			},
			Result: rep.Bytes(),
		},
		Metadata: VulnMetadata{
			ScanStartedOn:  started,
			ScanFinishedOn: finished,
			Verdict: VulnVerdict{
				Pass:      r.Verdict.Pass,
				Threshold: r.Verdict.Threshold,
				DecidedOn: time.Now().UTC(),
			},
		},
	}, nil
}

// reportMajor is the JSON report schema's major version this reads.
const reportMajor = "1"

// Scan is a build's scan result as read back: the predicate as attached,
// and its result, the JSON report, decoded.
type Scan struct {
	Predicate VulnPredicate
	Report    report.JSONReport
}

// DecodeScan reads a vuln predicate secure-build attached. A report of
// another major schema version, or another tool's, is an error: its fields
// would not mean what they say.
func DecodeScan(predicate []byte) (*Scan, error) {
	var s Scan
	if err := json.Unmarshal(predicate, &s.Predicate); err != nil {
		return nil, fmt.Errorf("read the scan result: %w", err)
	}
	// Without a result, the version check below says what is wrong.
	if result := s.Predicate.Scanner.Result; len(result) > 0 {
		if err := json.Unmarshal(result, &s.Report); err != nil {
			return nil, fmt.Errorf("read the scan result: %w", err)
		}
	}
	major, _, _ := strings.Cut(s.Report.SchemaVersion, ".")
	if major != reportMajor {
		return nil, fmt.Errorf("the scan result's report has schema version %q; this secure-build reads %s.x", s.Report.SchemaVersion, reportMajor)
	}
	return &s, nil
}

// Findings are the scan's findings, in the report's order.
func (s *Scan) Findings() []vuln.Finding {
	out := make([]vuln.Finding, len(s.Report.Findings))
	for i, f := range s.Report.Findings {
		out[i] = f.Finding()
	}
	return out
}
