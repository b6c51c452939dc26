package policy

import (
	"strings"
	"testing"

	"github.com/secure-build/secure-build/vuln"
)

func finding(id string, sev vuln.Severity, fixed string) vuln.Finding {
	return vuln.Finding{ID: id, Severity: sev, FixedVersion: fixed, Package: vuln.Package{Name: "pkg", Version: "1.0"}}
}

func TestGates(t *testing.T) {
	critFixable := finding("A", vuln.Critical, "1.1")
	critNoFix := finding("B", vuln.Critical, "")
	highFixable := finding("C", vuln.High, "1.1")
	unknownFixable := finding("D", vuln.Unknown, "1.1")
	unknownNoFix := finding("E", vuln.Unknown, "")
	all := []vuln.Finding{critFixable, critNoFix, highFixable, unknownFixable, unknownNoFix}
	level := func(s string) Level {
		l, err := ParseLevel(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	cases := []struct {
		name string
		t    Threshold
		want string // ids that gate
	}{
		{"default: fixable critical", Default, "A"},
		{"critical, fixable or not", Threshold{FailOn: level("critical")}, "AB"},
		{"high fixable", Threshold{FailOn: level("high"), OnlyFixable: true}, "AC"},
		{"low never gates unknown", Threshold{FailOn: level("low")}, "ABC"},
		{"unknown gates everything", Threshold{FailOn: level("unknown")}, "ABCDE"},
		{"unknown, fixable only", Threshold{FailOn: level("UNKNOWN"), OnlyFixable: true}, "ACD"},
		{"none gates nothing", Threshold{FailOn: level("none")}, ""},
	}
	for _, c := range cases {
		v := (&Policy{Threshold: c.t}).Evaluate(Input{Findings: all})
		var got string
		for _, f := range v.Failing {
			got += f.ID
		}
		if got != c.want || v.Pass != (c.want == "") {
			t.Errorf("%s: failing %q pass %v, want %q", c.name, got, v.Pass, c.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for _, s := range []string{"critical", "High", "medium", "low", "unknown", "none", "moderate"} {
		if _, err := ParseLevel(s); err != nil {
			t.Errorf("ParseLevel(%q): %v", s, err)
		}
	}
	if _, err := ParseLevel("severe"); err == nil || !strings.Contains(err.Error(), "severe") {
		t.Errorf("ParseLevel(severe): %v", err)
	}
}

func TestReasons(t *testing.T) {
	v := Defaults().Evaluate(Input{Findings: []vuln.Finding{finding("CVE-2021-44906", vuln.Critical, "1.2.6")}})
	r := v.Reasons()
	if len(r) != 1 || !strings.Contains(r[0], "CVE-2021-44906 pkg 1.0 -> 1.2.6") || !strings.Contains(r[0], "critical") {
		t.Errorf("reasons %q", r)
	}
}
