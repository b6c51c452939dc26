package frontend

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/scanstep"
	"github.com/secure-build/secure-build/vuln"
)

func TestReadSettings(t *testing.T) {
	s, err := readSettings(map[string]string{})
	if err != nil || s.failOn != nil || s.onlyFixable != nil || s.maxDBAge != vuln.DefaultMaxAge {
		t.Errorf("no build args: %+v, %v; want no overrides", s, err)
	}
	s, err = readSettings(map[string]string{ArgFailOn: "high", ArgOnlyFixable: "false", ArgMaxDBAge: "24h", "SOURCE_DATE_EPOCH": "0"})
	if err != nil {
		t.Fatal(err)
	}
	p := withOverrides(policy.Defaults(), s)
	if p.Threshold.FailOn.Severity != vuln.High || p.Threshold.OnlyFixable || s.maxDBAge != 24*time.Hour || s.sourceDateEpoch != "0" {
		t.Errorf("build args not applied: %+v, %+v", s, p.Threshold)
	}
	for args, want := range map[string]map[string]string{
		ArgFailOn:      {ArgFailOn: "severe"},
		ArgOnlyFixable: {ArgOnlyFixable: "maybe"},
		ArgMaxDBAge:    {ArgMaxDBAge: "a week"},
	} {
		if _, err := readSettings(want); err == nil || !strings.Contains(err.Error(), args) {
			t.Errorf("%v: got %v, want an error naming %s", want, err, args)
		}
	}
}

func stepOf(findings []vuln.Finding, updated time.Time) *stepOutput {
	return &stepOutput{
		result: scanstep.Result{
			Findings:  findings,
			Updated:   map[string]time.Time{"npm": updated, "Debian": updated.Add(time.Hour)},
			StartedAt: updated,
			EndedAt:   updated.Add(time.Second),
		},
		sbom: &sbom.SBOM{Source: "test"},
	}
}

var (
	fixableCritical = vuln.Finding{ID: "CVE-2021-44906", Severity: vuln.Critical, FixedVersion: "1.2.6",
		Package: vuln.Package{Name: "minimist", Version: "1.2.5"}}
	unfixedCritical = vuln.Finding{ID: "GHSA-2099-last-aff", Severity: vuln.Critical,
		Package: vuln.Package{Name: "listed", Version: "2.0.1"}}
)

func TestDecide(t *testing.T) {
	s, _ := readSettings(nil)
	old := time.Now().Add(-10 * 24 * time.Hour)
	scan := decide("linux/amd64", stepOf([]vuln.Finding{unfixedCritical}, old), s, policy.Defaults(), nil, "test")
	if !scan.Report.Verdict.Pass {
		t.Error("an unfixed critical failed the default policy")
	}
	if scan.DatabaseAge < 10*24*time.Hour || !strings.Contains(scan.Report.Database.Stale, "docker secure db update") {
		t.Errorf("a 10-day-old database: age %s, stale %q; want the age of the oldest archive and a warning", scan.DatabaseAge, scan.Report.Database.Stale)
	}

	scan = decide("linux/arm64", stepOf([]vuln.Finding{unfixedCritical, fixableCritical}, time.Now()), s, policy.Defaults(), nil, "test")
	if scan.Report.Verdict.Pass || scan.Report.Database.Stale != "" {
		t.Fatalf("a fixable critical passed (or a fresh database is stale): %+v", scan.Report.Verdict)
	}
	msg := (&PolicyError{Scans: []PlatformScan{scan}}).Error()
	for _, want := range []string{"linux/arm64", "CVE-2021-44906 in minimist 1.2.5 -> 1.2.6", "nothing was exported"} {
		if !strings.Contains(msg, want) {
			t.Errorf("policy error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "GHSA-2099-last-aff") {
		t.Errorf("policy error %q lists a finding that did not fail the policy", msg)
	}

	// A fail rule of the policy file fails the build with its line; the
	// build args' threshold overrides the file's.
	pol, err := policy.Parse("secure-build.yaml", []byte("vulnerabilities:\n  fail-on: none\nbase-image:\n  pinned: {action: fail}\n"))
	if err != nil {
		t.Fatal(err)
	}
	facts := &policy.BuildFacts{Dockerfile: "Dockerfile", User: "app", Base: policy.BaseImage{Name: "debian", Ref: "debian", Line: 3}}
	scan = decide("linux/amd64", stepOf([]vuln.Finding{fixableCritical}, time.Now()), s, pol, facts, "test")
	msg = (&PolicyError{Scans: []PlatformScan{scan}}).Error()
	if scan.Report.Verdict.Pass || !strings.Contains(msg, "Dockerfile:3") || !strings.Contains(msg, "untagged") || strings.Contains(msg, "CVE-2021-44906") {
		t.Errorf("fail-on none with an unpinned base and pinned: fail: %s", msg)
	}
	high := policy.Level{Severity: vuln.High}
	scan = decide("linux/amd64", stepOf([]vuln.Finding{fixableCritical}, time.Now()), settings{failOn: &high}, withOverrides(pol, settings{failOn: &high}), nil, "test")
	if scan.Report.Verdict.Pass || len(scan.Report.Verdict.Failing) != 1 {
		t.Errorf("SECURE_BUILD_FAIL_ON=high over a file's fail-on: none: %+v", scan.Report.Verdict)
	}
}

func TestScanPredicate(t *testing.T) {
	s, _ := readSettings(nil)
	updated := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := stepOf([]vuln.Finding{unfixedCritical}, updated)
	scan := decide("linux/amd64", out, s, policy.Defaults(), nil, "1.0.0")
	b, err := scanPredicate(out, scan)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Scanner struct {
			URI     string `json:"uri"`
			Version string `json:"version"`
			DB      struct {
				Version string `json:"version"`
				Age     string `json:"age"`
			} `json:"db"`
			Result struct {
				Verdict  struct{ Pass bool }   `json:"verdict"`
				Findings []struct{ ID string } `json:"findings"`
			} `json:"result"`
		} `json:"scanner"`
		Metadata struct {
			ScanStartedOn  time.Time `json:"scanStartedOn"`
			ScanFinishedOn time.Time `json:"scanFinishedOn"`
			Verdict        struct {
				Pass      bool      `json:"pass"`
				DecidedOn time.Time `json:"decidedOn"`
			} `json:"verdict"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("predicate is not JSON: %v\n%s", err, b)
	}
	if p.Scanner.Version != "1.0.0" || p.Scanner.DB.Version != "2026-11-01T00:00:00Z" || p.Scanner.DB.Age == "" {
		t.Errorf("scanner facts wrong: %+v", p.Scanner)
	}
	if !p.Scanner.Result.Verdict.Pass || len(p.Scanner.Result.Findings) != 1 || p.Scanner.Result.Findings[0].ID != "GHSA-2099-last-aff" {
		t.Errorf("result is not the JSON report of the scan: %+v", p.Scanner.Result)
	}
	if !p.Metadata.ScanStartedOn.Equal(updated) || !p.Metadata.Verdict.Pass || time.Since(p.Metadata.Verdict.DecidedOn) > time.Minute {
		t.Errorf("metadata wrong: %+v", p.Metadata)
	}
}
