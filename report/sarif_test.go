package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/secure-build/secure-build/policy"
)

func TestWriteSARIF(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, testScan()); err != nil {
		t.Fatal(err)
	}
	rep, err := sarif.FromBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Fatalf("not valid SARIF 2.1.0: %v", err)
	}
	if rep.Version != "2.1.0" || len(rep.Runs) != 1 {
		t.Fatalf("version %s, %d runs", rep.Version, len(rep.Runs))
	}
	run := rep.Runs[0]
	driver := run.Tool.Driver
	if *driver.Name != "secure-build" || *driver.Version != "0.1.0" || *driver.InformationURI != toolURI {
		t.Errorf("driver: %s %s %s", *driver.Name, *driver.Version, *driver.InformationURI)
	}

	// One rule per id, with the severity GitHub ranks by.
	wantRules := map[string]string{
		"CVE-2005-2541":       "",
		"CVE-2023-45853":      "9.8",
		"DSA-5678-1":          "5.5",
		"GHSA-m425-mq94-257g": "7.5",
	}
	var ruleIDs []string
	for _, r := range driver.Rules {
		ruleIDs = append(ruleIDs, *r.ID)
		got, _ := r.Properties.Properties["security-severity"].(string)
		if got != wantRules[*r.ID] {
			t.Errorf("rule %s: security-severity %q, want %q", *r.ID, got, wantRules[*r.ID])
		}
		if !slices.Contains(r.Properties.Tags, "security") || r.ShortDescription == nil || *r.ShortDescription.Text == "" ||
			r.Help == nil || r.Help.Markdown == nil || !strings.Contains(*r.HelpURI, *r.ID) {
			t.Errorf("rule %s: tags %v, description, help or helpUri missing", *r.ID, r.Properties.Tags)
		}
	}
	if !slices.Equal(ruleIDs, []string{"CVE-2005-2541", "CVE-2023-45853", "DSA-5678-1", "GHSA-m425-mq94-257g"}) {
		t.Errorf("rules: %q", ruleIDs)
	}
	dsaRule := driver.Rules[2]
	if !strings.Contains(*dsaRule.Help.Text, "Upstream: CVE-2024-0727, CVE-2024-2511") {
		t.Errorf("DSA rule help does not name the upstream ids: %s", *dsaRule.Help.Text)
	}

	// One result per finding and location, in report order.
	type result struct{ rule, level, uri, message string }
	want := []result{
		{"CVE-2023-45853", "error", "var/lib/dpkg/status", "zlib1g 1:1.2.13.dfsg-1: CVE-2023-45853 (critical), no fix yet"},
		{"GHSA-m425-mq94-257g", "error", "usr/local/bin/my%20server", "google.golang.org/grpc v1.56.2: GHSA-m425-mq94-257g (high), fixed in 1.56.3"},
		{"DSA-5678-1", "warning", "var/lib/dpkg/status", "libssl3 3.0.11-1~deb12u2: DSA-5678-1 (medium), fixed in 3.0.13-1~deb12u1"},
		{"DSA-5678-1", "warning", "var/lib/dpkg/status", "openssl 3.0.11-1~deb12u2: DSA-5678-1 (medium), fixed in 3.0.13-1~deb12u1"},
		{"CVE-2005-2541", "note", "var/lib/dpkg/status", "tar 1.34+dfsg-1.2+deb12u1: CVE-2005-2541 (unknown), no fix yet"},
	}
	var got []result
	fingerprints := map[string]bool{}
	for _, r := range run.Results {
		loc := r.Locations[0].PhysicalLocation
		got = append(got, result{*r.RuleID, r.Level, *loc.ArtifactLocation.URI, *r.Message.Text})
		if *driver.Rules[r.RuleIndex].ID != *r.RuleID {
			t.Errorf("result %s: ruleIndex %d is rule %s", *r.RuleID, r.RuleIndex, *driver.Rules[r.RuleIndex].ID)
		}
		if loc.Region == nil || *loc.Region.StartLine != 1 {
			t.Errorf("result %s: no region", *r.RuleID)
		}
		fingerprints[r.PartialFingerprints["secure-build/package/v1"]] = true
	}
	if !slices.Equal(got, want) {
		t.Errorf("results:\n got %q\nwant %q", got, want)
	}
	if len(fingerprints) != len(want) {
		t.Errorf("results share fingerprints: %v", fingerprints)
	}

	if n := run.Invocations[0].ToolExecutionNotifications; len(n) != 1 || n[0].Level != "warning" || !strings.Contains(*n[0].Message.Text, "9 days old") {
		t.Errorf("stale database is not a warning notification: %+v", n)
	}
}

func TestSARIFLocations(t *testing.T) {
	s := &Scan{Target: "./rootfs"}
	f := testFindings()[0]
	f.Package.Locations = nil
	if got := sarifLocations(s, f); !slices.Equal(got, []string{"./rootfs"}) {
		t.Errorf("no location: got %q, want the target", got)
	}
	f.Package.Locations = []string{"/a:b/package.json", "/opt/100%/x#y"}
	if got, want := sarifLocations(s, f), []string{"./a:b/package.json", "opt/100%25/x%23y"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSARIFPolicy: a suppressed finding carries an accepted suppression
// with its reason; a broken rule is a result of its own rule, on its
// Dockerfile line, an error when it fails.
func TestSARIFPolicy(t *testing.T) {
	s := testScan()
	s.Verdict.Suppressed = []policy.Suppressed{{Finding: s.Findings[0], By: "ignore", Status: "not_affected", Reason: "not reachable", Source: "secure-build.yaml:4"}}
	s.Verdict.Violations = []policy.Violation{
		{Rule: "dockerfile.no-distro-upgrade", Action: policy.Fail, Message: "apt-get upgrade upgrades the whole distribution", File: "Dockerfile", Line: 3},
		{Rule: "licenses", Action: policy.Warn, Message: "gpl 1 (deb): license GPL-3.0-only is denied"},
	}
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
	var suppressed, rules int
	for _, r := range rep.Runs[0].Results {
		for _, sup := range r.Suppressions {
			if *r.RuleID == s.Findings[0].ID && *sup.Status == "accepted" && strings.Contains(*sup.Justification, "not reachable") {
				suppressed++
			}
		}
		switch *r.RuleID {
		case "secure-build/dockerfile.no-distro-upgrade":
			loc := r.Locations[0].PhysicalLocation
			if r.Level != "error" || *loc.ArtifactLocation.URI != "Dockerfile" || *loc.Region.StartLine != 3 {
				t.Errorf("the Dockerfile rule's result: level %s at %s:%d", r.Level, *loc.ArtifactLocation.URI, *loc.Region.StartLine)
			}
			rules++
		case "secure-build/licenses":
			if r.Level != "warning" || len(r.Locations) != 0 {
				t.Errorf("the license rule's result: level %s, %d locations", r.Level, len(r.Locations))
			}
			rules++
		}
	}
	if suppressed == 0 || rules != 2 {
		t.Errorf("%d suppressed results, %d rule results; want some and 2\n%s", suppressed, rules, buf.String())
	}
}
