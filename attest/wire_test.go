package attest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// TestNewStatement pins the statement's bytes: images attested before must
// read the same.
func TestNewStatement(t *testing.T) {
	b, err := json.Marshal(NewStatement(SPDXPredicateType, []byte(`{"spdxVersion": "SPDX-2.3"}`)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":null,"predicate":{"spdxVersion":"SPDX-2.3"}}`
	if string(b) != want {
		t.Errorf("statement\n got %s\nwant %s", b, want)
	}
}

// TestNewVulnPredicate pins the predicate's fields and checks it reads back.
func TestNewVulnPredicate(t *testing.T) {
	finding := vuln.Finding{ID: "CVE-2021-44906", Package: vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5"}, FixedVersion: "1.2.6", Severity: vuln.Critical}
	updated := map[string]time.Time{
		"npm":       time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
		"Debian:12": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	}
	r := &report.Scan{
		Target: "linux/amd64 final stage", Findings: []vuln.Finding{finding},
		Verdict:   policy.Verdict{Pass: false, Threshold: "fail on: critical or higher, fixable only", Failing: []vuln.Finding{finding}},
		Threshold: policy.Default, Database: report.Database{Updated: updated}, ToolVersion: "1.0.0",
	}
	started, finished := time.Date(2026, 11, 3, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 1, 0, 5, 0, time.UTC)
	p, err := NewVulnPredicate(r, started, finished, 49*time.Hour+time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	metadata := got["metadata"].(map[string]any)
	verdict := metadata["verdict"].(map[string]any)
	decided, err := time.Parse(time.RFC3339, verdict["decidedOn"].(string))
	if err != nil || time.Since(decided) > time.Minute {
		t.Errorf("decidedOn %v, %v: want now", verdict["decidedOn"], err)
	}
	delete(verdict, "decidedOn")
	delete(got["scanner"].(map[string]any), "result")
	var want map[string]any
	if err := json.Unmarshal([]byte(`{
		"invocation": {"parameters": [], "uri": "", "event_id": "", "builder.id": ""},
		"scanner": {
			"uri": "https://github.com/secure-build/secure-build",
			"version": "1.0.0",
			"db": {
				"uri": "https://osv.dev",
				"version": "2026-11-01T00:00:00Z",
				"updated": {"npm": "2026-11-02T00:00:00Z", "Debian:12": "2026-11-01T00:00:00Z"},
				"age": "49h0m0s"
			}
		},
		"metadata": {
			"scanStartedOn": "2026-11-03T01:00:00Z",
			"scanFinishedOn": "2026-11-03T01:00:05Z",
			"verdict": {"pass": false, "threshold": "fail on: critical or higher, fixable only"}
		}
	}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("predicate\n got %s", b)
	}

	scan, err := DecodeScan(b)
	if err != nil {
		t.Fatal(err)
	}
	if scan.Report.SchemaVersion != report.SchemaVersion || scan.Report.Target != r.Target || scan.Report.Verdict.Pass {
		t.Errorf("the result is not the scan's JSON report: %+v", scan.Report)
	}
	if f := scan.Findings(); len(f) != 1 || f[0].ID != finding.ID || f[0].Package.PURL != finding.Package.PURL || f[0].FixedVersion != "1.2.6" {
		t.Errorf("findings read back: %+v", f)
	}
}

func TestDecodeScanRejects(t *testing.T) {
	for name, c := range map[string]struct{ predicate, want string }{
		"another major version": {`{"scanner": {"result": {"schemaVersion": "2.0"}}}`, `the scan result's report has schema version "2.0"; this secure-build reads 1.x`},
		"another tool's":        {`{"scanner": {"uri": "pkg:github/aquasecurity/trivy"}}`, `schema version ""`},
		"not JSON":              {`{"scanner": `, "read the scan result"},
	} {
		if _, err := DecodeScan([]byte(c.predicate)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}
