package report

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

const schemaPath = "schema/report.schema.json"

func compileReportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // scannedAt and database.updated are date-times
	if err := c.AddResource(schemaPath, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func TestWriteJSONMatchesSchema(t *testing.T) {
	sch := compileReportSchema(t)
	for name, s := range map[string]*Scan{"findings": testScan(), "empty": {}} {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, s); err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s: report does not match its schema: %v\n%s", name, err, buf.String())
		}
	}
}

// TestReportSchemaRejects makes sure the schema says something: a report
// without the unknown count, or with a field it does not document, fails.
func TestReportSchemaRejects(t *testing.T) {
	sch := compileReportSchema(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(map[string]any){
		"no unknown count": func(r map[string]any) { delete(r["summary"].(map[string]any), "unknown") },
		"undocumented":     func(r map[string]any) { r["findings"].([]any)[0].(map[string]any)["extra"] = 1 },
		"bad severity":     func(r map[string]any) { r["findings"].([]any)[0].(map[string]any)["severity"] = "moderate" },
	} {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		change(inst.(map[string]any))
		if sch.Validate(inst) == nil {
			t.Errorf("%s: schema accepts it", name)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	var r JSONReport
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}

	if r.SchemaVersion != SchemaVersion || r.Target != "registry.example/app:1" || r.ScannedAt != "2026-01-10T12:00:00Z" ||
		r.Tool != (JSONTool{Name: "secure-build", Version: "0.1.0"}) {
		t.Errorf("header: %+v", r)
	}
	if r.Database.Updated["Go"] != "2025-12-31T23:00:00Z" || len(r.Database.Updated) != 3 || r.Database.Stale == "" {
		t.Errorf("database: %+v", r.Database)
	}
	if r.Distro == nil || r.Distro.ID != "debian" || r.Distro.VersionID != "12" {
		t.Errorf("distro: %+v", r.Distro)
	}
	wantSummary := JSONSummary{Total: 5, Fixable: 3, Critical: JSONCounts{1, 0}, High: JSONCounts{1, 1},
		Medium: JSONCounts{2, 2}, Low: JSONCounts{0, 0}, Unknown: JSONCounts{1, 0}}
	if r.Summary != wantSummary {
		t.Errorf("summary: got %+v, want %+v", r.Summary, wantSummary)
	}
	if r.Verdict.Pass || !slices.Equal(r.Verdict.Failing, []string{"GHSA-m425-mq94-257g"}) ||
		r.Verdict.Threshold != (JSONThreshold{FailOn: "high", OnlyFixable: true, Scope: "all", Description: "fail on: high or higher, fixable only"}) {
		t.Errorf("verdict: %+v", r.Verdict)
	}

	var order []string
	for _, f := range r.Findings {
		order = append(order, f.ID+" "+f.Package.Name)
	}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("findings order:\n got %q\nwant %q", order, wantOrder)
	}
	dsa := r.Findings[2]
	if !slices.Equal(dsa.Upstream, []string{"CVE-2024-0727", "CVE-2024-2511"}) || !dsa.Fixable ||
		dsa.Package.MatchName != "openssl" || dsa.Package.Ecosystem != "Debian:12" || dsa.Score != 5.5 {
		t.Errorf("DSA finding: %+v", dsa)
	}
	tar := r.Findings[4]
	if tar.Fixable || tar.FixedVersion != "" || tar.Severity.String() != "unknown" || tar.Aliases == nil {
		t.Errorf("unknown finding: %+v", tar)
	}
}

// TestJSONReadBack: a report read back gives the findings and violations
// written, all but what the report leaves out (Modified).
func TestJSONReadBack(t *testing.T) {
	s := testScan()
	s.Verdict.Violations = []policy.Violation{
		{Rule: "base-image.pinned", Action: policy.Fail, Message: "base image is not pinned", File: "Dockerfile", Line: 3},
		{Rule: "licenses", Action: policy.Warn, Message: "GPL-3.0 in tar"},
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	var r JSONReport
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	for i, f := range vuln.Sorted(s.Findings) {
		f.Modified = ""
		got := r.Findings[i].Finding()
		// The report writes an absent list as [].
		if !reflect.DeepEqual(empty(got), empty(f)) {
			t.Errorf("finding %d read back:\n got %+v\nwant %+v", i, got, f)
		}
	}
	for i, v := range s.Verdict.Violations {
		if got := r.Verdict.Violations[i].Violation(); got != v {
			t.Errorf("violation %d read back: %+v, want %+v", i, got, v)
		}
	}
}

// empty makes f's absent lists empty ones.
func empty(f vuln.Finding) vuln.Finding {
	for _, l := range []*[]string{&f.Aliases, &f.Upstream, &f.Package.Locations} {
		if *l == nil {
			*l = []string{}
		}
	}
	return f
}
