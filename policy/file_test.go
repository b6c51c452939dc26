package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/vuln"
)

func TestParseDefaults(t *testing.T) {
	for _, doc := range []string{"", "# nothing yet\n", "{}\n"} {
		p, err := Parse("secure-build.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if p.Threshold != Default || p.BaseImage.Pinned != Warn || p.Docker.NonRootUser != Warn || p.NeedsPackages() {
			t.Errorf("%q: not the defaults: %+v", doc, p)
		}
	}
}

func TestParseFull(t *testing.T) {
	doc := `vulnerabilities:
  fail-on: high            # critical | high | medium | low | none
  only-fixable: false
  max-counts: {medium: 3}
  ignore:
    - id: CVE-2021-44906
      package: minimist
      versions: ">=1.0, <1.2.6"
      reason: "not reachable from our code"
      expires: 2027-01-31
vex: [vex/app.openvex.json, "https://example.com/vex.json"]
licenses:
  deny: [GPL-3.0-only, AGPL-3.0-or-later]
base-image:
  pinned: {action: fail, require: digest}
  repositories: {allow: [debian, "ghcr.io/acme/*"]}
  max-age: {action: warn, days: 30}
dockerfile:
  multi-stage: {action: off}
  no-distro-upgrade: {}
`
	p, err := Parse("secure-build.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if p.Threshold.FailOn.Severity != vuln.High || p.Threshold.OnlyFixable || p.MaxCounts[vuln.Medium] != 3 {
		t.Errorf("vulnerabilities: %+v %v", p.Threshold, p.MaxCounts)
	}
	ig := p.Ignore[0]
	if ig.ID != "CVE-2021-44906" || ig.Package != "minimist" || ig.Reason != "not reachable from our code" ||
		!ig.Expires.Equal(time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)) || ig.Line != 6 {
		t.Errorf("ignore: %+v", ig)
	}
	if len(p.VEX) != 2 || p.Licenses.Action != Fail || len(p.Licenses.Deny) != 2 {
		t.Errorf("vex, licenses: %v %+v", p.VEX, p.Licenses)
	}
	b := p.BaseImage
	if b.Pinned != Fail || !b.RequireDigest || b.Repositories != Fail || len(b.AllowedRepos) != 2 || b.MaxAge != Warn || b.MaxAgeDays != 30 {
		t.Errorf("base-image: %+v", b)
	}
	if p.Docker.MultiStage != Off || p.Docker.NoDistroUpgrade != Fail || p.Docker.NonRootUser != Warn {
		t.Errorf("dockerfile: a rule named without an action fails, one not named keeps its default: %+v", p.Docker)
	}
}

// TestParseErrors: each kind of mistake is named with the file, its line
// and the key.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"not YAML", "vulnerabilities:\n  fail-on: [high\n", "policy p.yaml:2: not valid YAML"},
		{"unknown level", "vulnerabilities:\n  fail-on: severe\n", "policy p.yaml:2: vulnerabilities.fail-on: value must be one of 'critical'"},
		{"unknown key", "vulnerabilities:\n  fail-on: high\nvulns: {}\n", "policy p.yaml:3: the file: unknown key 'vulns'"},
		{"unknown nested key", "base-image:\n  pinned:\n    action: fail\n    digest: true\n", "policy p.yaml:4: base-image.pinned: unknown key 'digest'"},
		{"missing reason", "vulnerabilities:\n  ignore:\n    - id: CVE-1\n", "policy p.yaml:3: vulnerabilities.ignore[0]: missing property 'reason'"},
		{"blank reason", "vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: \"  \"\n", "policy p.yaml:4: vulnerabilities.ignore[0].reason: a reason is required"},
		{"missing id", "vulnerabilities:\n  ignore:\n    - reason: x\n", "vulnerabilities.ignore[0]: missing property 'id'"},
		{"bad date", "vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: x\n      expires: 31/01/2027\n", "policy p.yaml:5: vulnerabilities.ignore[0].expires: want a date as YYYY-MM-DD"},
		{"impossible date", "vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: x\n      expires: 2027-02-30\n", "policy p.yaml:5: vulnerabilities.ignore[0].expires: \"2027-02-30\" is not a date"},
		{"bad versions", "vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: x\n      versions: \">= <2\"\n", "policy p.yaml:5: vulnerabilities.ignore[0].versions"},
		{"negative count", "vulnerabilities:\n  max-counts:\n    high: -1\n", "policy p.yaml:3: vulnerabilities.max-counts.high: minimum"},
		{"unknown severity count", "vulnerabilities:\n  max-counts:\n    severe: 1\n", "policy p.yaml:3: vulnerabilities.max-counts: unknown key 'severe'"},
		{"wrong type", "licenses:\n  deny: GPL-3.0-only\n", "policy p.yaml:2: licenses.deny: got string, want array"},
		{"bad action", "dockerfile:\n  non-root-user: {action: block}\n", "policy p.yaml:2: dockerfile.non-root-user.action: value must be one of 'fail', 'warn', 'off'"},
		{"repositories without allow", "base-image:\n  repositories: {action: fail}\n", "policy p.yaml:2: base-image.repositories: missing property 'allow'"},
		{"vex not a list", "vex: a.json\n", "policy p.yaml:1: vex: got string, want array"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant an error with %q", err, c.want)
			}
			var fe *FileError
			var fes FileErrors
			if !errors.As(err, &fe) && !errors.As(err, &fes) {
				t.Errorf("%T is not a FileError", err)
			}
		})
	}
}

// TestUnknownKeyLineAndSuggestion: an unknown key is reported on its own
// line, also when its value is a mapping that starts on the next, with the
// known key it is likely a misspelling of.
func TestUnknownKeyLineAndSuggestion(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"top-level on line 1", "vulnerabilitis:\n  fail-on: high\n", "policy p.yaml:1: the file: unknown key 'vulnerabilitis' (did you mean 'vulnerabilities'?)"},
		{"after a comment", "# policy\nlicences:\n  deny: [GPL-3.0-only]\n", "policy p.yaml:2: the file: unknown key 'licences' (did you mean 'licenses'?)"},
		{"nested", "base-image:\n  pined:\n    action: fail\n", "policy p.yaml:2: base-image: unknown key 'pined' (did you mean 'pinned'?)"},
		{"in a list entry", "vulnerabilities:\n  ignore:\n    - id: CVE-1\n      reason: x\n      expire: 2027-01-01\n", "policy p.yaml:5: vulnerabilities.ignore[0]: unknown key 'expire' (did you mean 'expires'?)"},
		{"case", "Vulnerabilities:\n  fail-on: high\n", "policy p.yaml:1: the file: unknown key 'Vulnerabilities' (did you mean 'vulnerabilities'?)"},
		{"quoted", "\"scna\":\n  incomplete: warn\n", "policy p.yaml:1: the file: unknown key 'scna' (did you mean 'scan'?)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse("p.yaml", []byte(c.doc)); err == nil || err.Error() != c.want {
				t.Errorf("got  %v\nwant %s", err, c.want)
			}
		})
	}
	// Nothing near: no suggestion.
	if _, err := Parse("p.yaml", []byte("color: red\n")); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("an unrelated key: %v, want an error without a suggestion", err)
	}
}

func TestSchemaIsPublishedBesideTheCode(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("schema", "secure-build.schema.json"))
	if err != nil || string(b) != string(Schema) {
		t.Errorf("the embedded schema is not policy/schema/secure-build.schema.json: %v", err)
	}
}

// vexDoc is an OpenVEX document with one statement; statuses that need a
// justification or an action get one.
func vexDoc(id, product, status string) string {
	extra := ""
	switch status {
	case "not_affected":
		extra = `, "justification": "vulnerable_code_not_in_execute_path"`
	case "affected":
		extra = `, "action_statement": "upgrade"`
	}
	return `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "t", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
  "statements": [{"vulnerability": {"name": "` + id + `"}, "products": [{"@id": "` + product + `"}], "status": "` + status + `"` + extra + `}]}`
}
