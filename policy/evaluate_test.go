package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func npmFinding(id string, aliases []string, name, version, fixed string, sev vuln.Severity) vuln.Finding {
	return vuln.Finding{ID: id, Aliases: aliases, Severity: sev, FixedVersion: fixed, Package: vuln.Package{
		Name: name, Version: version, PURL: "pkg:npm/" + name + "@" + version, Ecosystem: "npm", MatchName: name, MatchVersion: version}}
}

var minimist = npmFinding("CVE-2021-44906", []string{"GHSA-xvch-5gv4-984h"}, "minimist", "1.2.5", "1.2.6", vuln.Critical)

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse("secure-build.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIgnore(t *testing.T) {
	entry := func(extra string) string {
		return "vulnerabilities:\n  ignore:\n    - id: GHSA-xvch-5gv4-984h\n      reason: not reachable\n" + extra
	}
	cases := []struct {
		name     string
		doc      string
		suppress bool
		note     string
	}{
		{"by alias", entry(""), true, ""},
		{"by own id, any case", "vulnerabilities:\n  ignore:\n    - id: cve-2021-44906\n      reason: r\n", true, ""},
		{"other package", entry("      package: yargs\n"), false, ""},
		{"same package", entry("      package: minimist\n"), true, ""},
		{"version in range", entry("      versions: \">=1.0, <1.2.6\"\n"), true, ""},
		{"version out of range", entry("      versions: \"<1.2.5\"\n"), false, ""},
		{"exact version", entry("      versions: \"1.2.5\"\n"), true, ""},
		{"expires today", entry("      expires: 2026-11-27\n"), true, ""},
		{"expired yesterday", entry("      expires: 2026-11-26\n"), false, "ignore entry for GHSA-xvch-5gv4-984h (secure-build.yaml:3) expired on 2026-11-26"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := mustParse(t, c.doc).Evaluate(Input{Findings: []vuln.Finding{minimist}, Now: now})
			if got := len(v.Suppressed) == 1; got != c.suppress {
				t.Fatalf("suppressed %v, want %v: %+v", got, c.suppress, v)
			}
			if v.Pass != c.suppress {
				t.Errorf("pass %v: a fixable critical left in must fail", v.Pass)
			}
			if c.suppress && (v.Suppressed[0].By != "ignore" || v.Suppressed[0].Reason == "" || v.Suppressed[0].Source != "secure-build.yaml:3") {
				t.Errorf("suppression: %+v", v.Suppressed[0])
			}
			if c.note != "" && (len(v.Notes) != 1 || !strings.Contains(v.Notes[0], c.note)) {
				t.Errorf("notes %q, want %q", v.Notes, c.note)
			}
		})
	}
}

func TestVEX(t *testing.T) {
	app := ImageIdentities("registry.example.com/team/app:1")
	imageStatement := func(product, sub string) string {
		subs := ""
		if sub != "" {
			subs = `, "subcomponents": [{"@id": "` + sub + `"}]`
		}
		return `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "t", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
  "statements": [{"vulnerability": {"name": "CVE-2021-44906"}, "products": [{"@id": "` + product + `"` + subs + `}],
  "status": "not_affected", "impact_statement": "parsing is never given user input"}]}`
	}
	cases := []struct {
		name, doc string
		image     []string
		suppress  bool
	}{
		{"not_affected for the package", vexDoc("CVE-2021-44906", "pkg:npm/minimist@1.2.5", "not_affected"), nil, true},
		{"by alias, versionless purl", vexDoc("GHSA-xvch-5gv4-984h", "pkg:npm/minimist", "not_affected"), nil, true},
		{"fixed", vexDoc("CVE-2021-44906", "pkg:npm/minimist@1.2.5", "fixed"), nil, true},
		{"affected", vexDoc("CVE-2021-44906", "pkg:npm/minimist@1.2.5", "affected"), nil, false},
		{"other version", vexDoc("CVE-2021-44906", "pkg:npm/minimist@1.2.4", "not_affected"), nil, false},
		{"other vulnerability", vexDoc("CVE-2020-7598", "pkg:npm/minimist@1.2.5", "not_affected"), nil, false},
		{"this image by purl, the package as subcomponent", imageStatement("pkg:oci/app?repository_url=registry.example.com/team/app", "pkg:npm/minimist@1.2.5"), app, true},
		{"this image by name, the package as subcomponent", imageStatement("registry.example.com/team/app", "pkg:npm/minimist"), app, true},
		{"this image as a whole", imageStatement("pkg:oci/app", ""), app, true},
		{"another image", imageStatement("pkg:oci/other", "pkg:npm/minimist@1.2.5"), app, false},
		{"the image evaluated is not known", imageStatement("pkg:oci/app", "pkg:npm/minimist@1.2.5"), nil, false},
		{"this image, another package", imageStatement("pkg:oci/app", "pkg:npm/yargs@1.0.0"), app, false},
		{"the latest statement wins", `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "t", "timestamp": "2026-11-01T00:00:00Z", "version": 2,
  "statements": [
    {"vulnerability": {"name": "CVE-2021-44906"}, "products": [{"@id": "pkg:npm/minimist@1.2.5"}], "status": "not_affected", "justification": "vulnerable_code_not_present", "timestamp": "2026-10-01T00:00:00Z"},
    {"vulnerability": {"name": "CVE-2021-44906"}, "products": [{"@id": "pkg:npm/minimist@1.2.5"}], "status": "affected", "action_statement": "upgrade", "timestamp": "2026-11-01T00:00:00Z"}]}`, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, "vex: [app.json]\n")
			if err := p.AddVEX("app.json", []byte(c.doc)); err != nil {
				t.Fatal(err)
			}
			v := p.Evaluate(Input{Findings: []vuln.Finding{minimist}, Image: c.image, Now: now})
			if got := len(v.Suppressed) == 1; got != c.suppress || v.Pass != c.suppress {
				t.Fatalf("suppressed %v pass %v, want %v: %+v", got, v.Pass, c.suppress, v)
			}
			if c.suppress && (v.Suppressed[0].By != "vex" || v.Suppressed[0].Source != "app.json") {
				t.Errorf("suppression: %+v", v.Suppressed[0])
			}
		})
	}
}

func TestImageIdentities(t *testing.T) {
	got := ImageIdentities("registry.example.com/team/app:1", "debian@sha256:"+strings.Repeat("a", 64))
	for _, want := range []string{
		"registry.example.com/team/app:1", "registry.example.com/team/app",
		"pkg:oci/app?repository_url=registry.example.com%2Fteam%2Fapp&tag=1",
		"docker.io/library/debian", "debian",
		"pkg:oci/debian@sha256:" + strings.Repeat("a", 64) + "?repository_url=docker.io%2Flibrary%2Fdebian",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("identities %q lack %q", got, want)
		}
	}
}

func TestMaxCounts(t *testing.T) {
	highs := []vuln.Finding{
		npmFinding("CVE-1", nil, "a", "1.0.0", "1.0.1", vuln.High),
		npmFinding("CVE-2", nil, "b", "1.0.0", "1.0.1", vuln.High),
		npmFinding("CVE-3", nil, "c", "1.0.0", "", vuln.High),
	}
	p := mustParse(t, "vulnerabilities:\n  fail-on: high\n  max-counts: {high: 2}\n")
	if v := p.Evaluate(Input{Findings: highs, Now: now}); !v.Pass {
		t.Errorf("2 fixable highs, at most 2 allowed: %+v", v)
	}
	p = mustParse(t, "vulnerabilities:\n  fail-on: high\n  only-fixable: false\n  max-counts: {high: 2}\n")
	v := p.Evaluate(Input{Findings: append(highs, minimist), Now: now})
	if v.Pass || len(v.Failing) != 4 || len(v.Violations) != 1 || !strings.Contains(v.Violations[0].Message, "3 high findings, at most 2 allowed") {
		t.Errorf("3 highs of 2 allowed and a critical with fail-on high: %+v", v)
	}
	if !strings.Contains(v.Threshold, "at most 2 high") {
		t.Errorf("threshold %q does not say the count", v.Threshold)
	}
	// A count for a severity below fail-on still gates it.
	p = mustParse(t, "vulnerabilities:\n  fail-on: critical\n  max-counts: {high: 0}\n")
	if v := p.Evaluate(Input{Findings: highs, Now: now}); v.Pass || len(v.Failing) != 2 {
		t.Errorf("max-counts high: 0 with 2 fixable highs: %+v", v)
	}
}

func TestLicenses(t *testing.T) {
	pkgs := []sbom.Package{
		{Name: "mit", Version: "1", Type: "npm", Licenses: []string{"MIT"}},
		{Name: "gpl", Version: "1", Type: "deb", Licenses: []string{"GPL-3.0-only"}},
		{Name: "dual", Version: "1", Type: "npm", Licenses: []string{"MIT OR GPL-3.0-only"}},
		{Name: "both", Version: "1", Type: "npm", Licenses: []string{"MIT AND GPL-3.0-only"}},
		{Name: "custom", Version: "1", Type: "npm", Licenses: []string{"Custom proprietary terms"}},
		{Name: "none", Version: "1", Type: "npm"},
	}
	violators := func(doc string) string {
		v := mustParse(t, doc).Evaluate(Input{Packages: pkgs, Now: now})
		var names []string
		for _, x := range v.Violations {
			names = append(names, strings.Fields(x.Message)[0])
		}
		return strings.Join(names, ",")
	}
	if got := violators("licenses:\n  deny: [GPL-3.0-only]\n"); got != "gpl,both" {
		t.Errorf("deny GPL-3.0-only: %s, want gpl,both (dual can be taken as MIT)", got)
	}
	if got := violators("licenses:\n  allow: [MIT, Apache-2.0]\n"); got != "gpl,both,custom" {
		t.Errorf("allow MIT, Apache-2.0: %s, want gpl,both,custom", got)
	}
	if got := violators("licenses:\n  action: off\n  deny: [MIT]\n"); got != "" {
		t.Errorf("action off: %s", got)
	}
	v := mustParse(t, "licenses:\n  action: warn\n  deny: [GPL-3.0-only]\n").Evaluate(Input{Packages: pkgs, Now: now})
	if !v.Pass || len(v.Violations) != 2 || v.Violations[0].Action != Warn {
		t.Errorf("action warn: %+v", v)
	}
}

func TestIncompleteRule(t *testing.T) {
	gaps := []sbom.Incompleteness{
		{Path: "/var/lib/dpkg/status", Reason: "damaged"},
		{Path: "/var/lib/dpkg/status", Reason: "damaged"}, // the build's and verify's own
		{Path: "/app/lib.jar", Reason: "inflates too much"},
	}
	for _, tc := range []struct {
		doc, status string
		pass        bool
		action      Action
	}{
		{"", "INCOMPLETE", false, Fail},
		{"scan:\n  incomplete: fail\n", "INCOMPLETE", false, Fail},
		{"scan:\n  incomplete: warn\n", "PASS, INCOMPLETE", true, Warn},
		{"scan:\n  incomplete: off\n", "PASS, INCOMPLETE", true, ""},
	} {
		v := mustParse(t, tc.doc).Evaluate(Input{Incomplete: gaps, Now: now})
		if v.Pass != tc.pass || v.Status() != tc.status || len(v.Incomplete) != 2 {
			t.Errorf("%q: pass %v, status %q, incomplete %d; want %v, %q, 2", tc.doc, v.Pass, v.Status(), len(v.Incomplete), tc.pass, tc.status)
		}
		i := slices.IndexFunc(v.Violations, func(x Violation) bool { return x.Rule == RuleIncomplete })
		switch {
		case tc.action == "" && (i >= 0 || len(v.Notes) == 0 || !strings.Contains(v.Notes[0], "INCOMPLETE")):
			t.Errorf("%q: off should leave a note, no violation: %+v", tc.doc, v)
		case tc.action != "" && (i < 0 || v.Violations[i].Action != tc.action):
			t.Errorf("%q: violations %+v, want %s %s", tc.doc, v.Violations, RuleIncomplete, tc.action)
		}
		if !tc.pass && !strings.Contains(strings.Join(v.Reasons(), "\n"), "not read: /app/lib.jar: inflates too much") {
			t.Errorf("%q: reasons do not name each gap: %q", tc.doc, v.Reasons())
		}
	}
	// A failing finding and an incomplete scan: both said.
	v := Defaults().Evaluate(Input{Findings: []vuln.Finding{minimist}, Incomplete: gaps[:1], Now: now})
	if v.Status() != "FAIL, INCOMPLETE" {
		t.Errorf("status = %q, want FAIL, INCOMPLETE", v.Status())
	}
	// Complete scans are untouched.
	if v := Defaults().Evaluate(Input{Now: now}); v.Status() != "PASS" || len(v.Incomplete) != 0 {
		t.Errorf("complete scan: %+v", v)
	}
	if _, err := Parse("p.yaml", []byte("scan:\n  incomplete: sometimes\n")); err == nil {
		t.Error("scan.incomplete: sometimes was accepted")
	}
}
