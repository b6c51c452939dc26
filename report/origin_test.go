package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/secure-build/secure-build/internal/sbomcheck"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

const baseDigest = "sha256:4b1c2a3d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"

var (
	fromBase = origin.Origin{Kind: origin.Base, Image: "debian:12-slim", Digest: baseDigest, File: "Dockerfile", StartLine: 5, EndLine: 5, Stage: "final"}
	fromRun  = origin.Origin{Kind: origin.Instruction, File: "Dockerfile", StartLine: 7, EndLine: 9, Stage: "final",
		Instruction: "RUN apt-get update && \\\n    apt-get install -y libssl3 && \\\n    rm -rf /var/lib/apt/lists"}
	fromCopy = origin.Origin{Kind: origin.Instruction, File: "Dockerfile", StartLine: 15, EndLine: 15, Stage: "final",
		Instruction: "COPY --from=build /out/server /usr/local/bin/", CopiedFrom: "build"}
	unattributed = origin.Origin{Kind: origin.Unknown, Reason: "not attributed: /var/lib/dpkg/status"}
)

// attributedScan is testScan as a build attributes it: zlib1g and tar
// inherited from the base, libssl3 added by a multi-line RUN, grpc by a
// COPY --from, openssl not attributed.
func attributedScan(scope policy.Scope) *Scan {
	s := testScan()
	for i, f := range s.Findings {
		switch f.Package.Name {
		case "zlib1g", "tar":
			s.Findings[i].Package.Origins = []origin.Origin{fromBase}
		case "libssl3":
			s.Findings[i].Package.Origins = []origin.Origin{fromRun}
		case "google.golang.org/grpc":
			s.Findings[i].Package.Origins = []origin.Origin{fromCopy}
		case "openssl":
			s.Findings[i].Package.Origins = []origin.Origin{unattributed}
		}
	}
	s.Threshold.Scope = scope
	s.Verdict = (&policy.Policy{Threshold: s.Threshold}).Evaluate(policy.Input{Findings: s.Findings})
	return s
}

const wantOriginLine = "2 findings inherited from debian:12-slim@sha256:4b1c2a3d5e6f…, 2 findings added by Dockerfile:7-9 and :15, 1 could not be attributed"

func TestOriginLine(t *testing.T) {
	if got := OriginLine(attributedScan(policy.ScopeAll).Findings); got != wantOriginLine {
		t.Errorf("origin line:\n got %q\nwant %q", got, wantOriginLine)
	}
	if got := OriginLine(testFindings()); got != "" {
		t.Errorf("findings without origins (a directory scan) must say nothing: %q", got)
	}
	three, five := 3, 5
	layered := testFindings()[:3]
	layered[0].Package.Origins = []origin.Origin{{Kind: origin.Layer, Layer: &five, CreatedBy: "RUN /bin/sh -c make"}}
	layered[1].Package.Origins = []origin.Origin{{Kind: origin.Layer, Layer: &three}}
	layered[2].Package.Origins = []origin.Origin{{Kind: origin.Base, Image: "alpine:3.20"}, {Kind: origin.Layer, Layer: &three}}
	if got, want := OriginLine(layered), "3 findings added by layers 3 and 5"; got != want {
		t.Errorf("layers: got %q, want %q", got, want)
	}
	one := testFindings()[:1]
	one[0].Package.Origins = []origin.Origin{fromBase}
	if got, want := OriginLine(one), "1 finding inherited from debian:12-slim@sha256:4b1c2a3d5e6f…"; got != want {
		t.Errorf("one: got %q, want %q", got, want)
	}
}

func TestTableOrigins(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, attributedScan(policy.ScopeAll)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"ORIGIN",
		"base debian:12-slim",
		"Dockerfile:7-9 RUN apt-get update && …",
		"Dockerfile:15 COPY --from=build /out/server /usr/local/bin/",
		"unknown: not attributed: /var/lib/dpkg/status",
		wantOriginLine + "\nFAIL (fail on: high or higher, fixable only): GHSA-m425-mq94-257g\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := WriteTable(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "ORIGIN") || strings.Contains(buf.String(), "inherited") {
		t.Errorf("findings without origins: no ORIGIN column, no origin line:\n%s", buf.String())
	}
	// An instruction is the Dockerfile's text: escaped like the rest.
	s := attributedScan(policy.ScopeAll)
	s.Findings[0].Package.Origins = []origin.Origin{{Kind: origin.Instruction, StartLine: 3, Instruction: "RUN echo \x1b[2J"}}
	buf.Reset()
	if err := WriteTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\x1b") || !strings.Contains(buf.String(), `RUN echo \x1b[2J`) {
		t.Errorf("an instruction's control characters must be escaped:\n%q", buf.String())
	}
}

func TestScopeInReports(t *testing.T) {
	s := attributedScan(policy.ScopeAdded)
	var buf bytes.Buffer
	if err := WriteTable(&buf, s); err != nil {
		t.Fatal(err)
	}
	// zlib1g's critical is inherited and unfixable; grpc's high is added:
	// it still fails, and the verdict names the scope.
	if !strings.Contains(buf.String(), "FAIL (fail on: high or higher, fixable only, scope added: inherited findings do not gate)") {
		t.Errorf("the verdict must say the scope:\n%s", buf.String())
	}
	var r JSONReport
	buf.Reset()
	if err := WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Verdict.Threshold.Scope != "added" {
		t.Errorf("JSON threshold scope = %q, want added", r.Verdict.Threshold.Scope)
	}
	buf.Reset()
	if err := WriteMarkdown(&buf, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Origin: 2 findings inherited from debian:12-slim@sha256:4b1c2a3d5e6f…, 2 findings added by Dockerfile:7-9 and :15") ||
		!strings.Contains(buf.String(), "scope added: inherited findings do not gate") {
		t.Errorf("markdown lacks the origin line or the scope:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "| Severity | Origin | Summary |") || !strings.Contains(buf.String(), "| high | Dockerfile:15 COPY --from=build /out/server /usr/local/bin/ | gRPC-Go") {
		t.Errorf("markdown's findings lack their origin:\n%s", buf.String())
	}
	buf.Reset()
	if err := WriteMarkdown(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "Origin") {
		t.Errorf("markdown without origins has an origin column:\n%s", buf.String())
	}
}

func TestJSONOrigins(t *testing.T) {
	s := attributedScan(policy.ScopeAll)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := compileReportSchema(t).Validate(inst); err != nil {
		t.Errorf("a report with origins does not match its schema: %v", err)
	}
	var r JSONReport
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	want := JSONOriginCounts{Inherited: 2, Added: 2, Unattributed: 1, Text: wantOriginLine}
	if r.Summary.Origins != want {
		t.Errorf("summary origins: %+v, want %+v", r.Summary.Origins, want)
	}
	for i, f := range vuln.Sorted(s.Findings) {
		got := r.Findings[i].Finding().Package.Origins
		if !reflect.DeepEqual(got, f.Package.Origins) {
			t.Errorf("%s origins read back: %+v, want %+v", f.Package.Name, got, f.Package.Origins)
		}
	}
	// Always written: a finding without origins has [], a non-layer null.
	buf.Reset()
	if err := WriteJSON(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"origins": []`) || !strings.Contains(buf.String(), `"origins": {`) {
		t.Errorf("origins must always be written:\n%s", buf.String())
	}
}

// TestSARIFOrigins: a finding a Dockerfile line brought in is a result on
// that line of the Dockerfile as the build context holds it (a base's on
// its FROM line), under %SRCROOT%; one with no line keeps its package's
// location. The fingerprint does not follow the line number.
func TestSARIFOrigins(t *testing.T) {
	s := attributedScan(policy.ScopeAll)
	s.Dockerfile = "app/Dockerfile"
	results := func(s *Scan) map[string]*sarif.Result {
		var buf bytes.Buffer
		if err := WriteSARIF(&buf, s); err != nil {
			t.Fatal(err)
		}
		rep, err := sarif.FromBytes(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Validate(); err != nil {
			t.Fatalf("not valid SARIF 2.1.0: %v", err)
		}
		out := map[string]*sarif.Result{}
		for _, r := range rep.Runs[0].Results {
			out[*r.RuleID+" "+strings.Fields(*r.Message.Text)[0]] = r
		}
		return out
	}
	got := results(s)
	for key, want := range map[string]struct {
		uri, base  string
		start, end int
	}{
		"DSA-5678-1 libssl3":                         {"app/Dockerfile", srcRoot, 7, 9},
		"GHSA-m425-mq94-257g google.golang.org/grpc": {"app/Dockerfile", srcRoot, 15, 15},
		"CVE-2023-45853 zlib1g":                      {"app/Dockerfile", srcRoot, 5, 5},
		"DSA-5678-1 openssl":                         {"var/lib/dpkg/status", "", 1, 0},
	} {
		r := got[key]
		if r == nil || len(r.Locations) != 1 {
			t.Errorf("%s: no result, or not one location: %+v", key, r)
			continue
		}
		pl := r.Locations[0].PhysicalLocation
		base := ""
		if pl.ArtifactLocation.URIBaseID != nil {
			base = *pl.ArtifactLocation.URIBaseID
		}
		end := 0
		if pl.Region.EndLine != nil {
			end = *pl.Region.EndLine
		}
		if *pl.ArtifactLocation.URI != want.uri || base != want.base || *pl.Region.StartLine != want.start || end != want.end {
			t.Errorf("%s at %s (base %q) lines %d-%d, want %+v", key, *pl.ArtifactLocation.URI, base, *pl.Region.StartLine, end, want)
		}
	}
	if !strings.Contains(*got["DSA-5678-1 libssl3"].Message.Text, "Dockerfile:7-9 RUN apt-get update") {
		t.Errorf("the message does not say the origin: %s", *got["DSA-5678-1 libssl3"].Message.Text)
	}
	// Two blank lines added above: the same alerts.
	for i := range s.Findings {
		for j := range s.Findings[i].Package.Origins {
			if o := &s.Findings[i].Package.Origins[j]; o.StartLine > 0 {
				o.StartLine += 2
				o.EndLine += 2
			}
		}
	}
	for key, r := range results(s) {
		if got[key] == nil || !reflect.DeepEqual(r.PartialFingerprints, got[key].PartialFingerprints) {
			t.Errorf("%s: fingerprint changed with the line numbers", key)
		}
	}
	// Without the context's path, the origin's own file.
	s.Dockerfile = ""
	if pl := results(s)["DSA-5678-1 libssl3"].Locations[0].PhysicalLocation; *pl.ArtifactLocation.URI != "Dockerfile" {
		t.Errorf("no Dockerfile path: uri %s, want the origin's file", *pl.ArtifactLocation.URI)
	}
}

// TestCycloneDXOrigins: each finding's component says where the package
// came from, and the document stays valid CycloneDX 1.6.
func TestCycloneDXOrigins(t *testing.T) {
	bom, doc := decodeCycloneDX(t, attributedScan(policy.ScopeAll))
	if err := sbomcheck.CycloneDX(doc); err != nil {
		t.Fatal(err)
	}
	props := map[string][]string{}
	for _, c := range *bom.Components {
		if c.Properties == nil {
			continue
		}
		for _, p := range *c.Properties {
			if strings.HasPrefix(p.Name, "secure-build:origin") {
				props[c.Name] = append(props[c.Name], p.Name+"="+p.Value)
			}
		}
	}
	want := map[string][]string{
		"zlib1g":                 {"secure-build:origin=base debian:12-slim", "secure-build:origin:base-image=debian:12-slim@" + baseDigest, "secure-build:origin:dockerfile-lines=Dockerfile:5"},
		"libssl3":                {"secure-build:origin=Dockerfile:7-9 RUN apt-get update && …", "secure-build:origin:dockerfile-lines=Dockerfile:7-9"},
		"google.golang.org/grpc": {"secure-build:origin=Dockerfile:15 COPY --from=build /out/server /usr/local/bin/", "secure-build:origin:dockerfile-lines=Dockerfile:15"},
		"openssl":                {"secure-build:origin=unknown: not attributed: /var/lib/dpkg/status"},
	}
	want["tar"] = want["zlib1g"]
	if !reflect.DeepEqual(props, want) {
		t.Errorf("origin properties:\n got %q\nwant %q", props, want)
	}
	bom, _ = decodeCycloneDX(t, testScan())
	for _, c := range *bom.Components {
		if c.Properties != nil && slices.ContainsFunc(*c.Properties, func(p cdx.Property) bool { return strings.HasPrefix(p.Name, "secure-build:origin") }) {
			t.Errorf("%s: an origin property without origins", c.Name)
		}
	}
}

// TestSARIFViolationInContext: a Dockerfile rule's result stands in the
// Dockerfile as the build context holds it, as the findings' do.
func TestSARIFViolationInContext(t *testing.T) {
	s := testScan()
	s.Dockerfile = "app/Dockerfile"
	s.Verdict.Violations = []policy.Violation{{Rule: "dockerfile.non-root-user", Action: policy.Warn, Message: "runs as root", File: "Dockerfile", Line: 8}}
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, s); err != nil {
		t.Fatal(err)
	}
	rep, err := sarif.FromBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Runs[0].Results {
		if *r.RuleID != "secure-build/dockerfile.non-root-user" {
			continue
		}
		loc := r.Locations[0].PhysicalLocation.ArtifactLocation
		if *loc.URI != "app/Dockerfile" || loc.URIBaseID == nil || *loc.URIBaseID != srcRoot {
			t.Errorf("the rule's result is at %s (base %v), want app/Dockerfile under %s", *loc.URI, loc.URIBaseID, srcRoot)
		}
		return
	}
	t.Error("no result of the rule")
}
