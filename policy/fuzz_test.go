package policy

import (
	"testing"
	"time"

	"github.com/secure-build/secure-build/vuln"
)

// FuzzParse: whatever a policy file holds, Parse returns a policy or an
// error, never panics, and a file that passes the expansion bound decodes
// to JSON of a size the bound allows (JSON escapes a byte in six at most).
// Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		_, js, err := decodeYAML("fuzz.yaml", data)
		if err == nil && len(js) > 8*maxExpandedSize {
			t.Fatalf("%d bytes decode to %d bytes of JSON, past the bound", len(data), len(js))
		}
		p, err := Parse("fuzz.yaml", data)
		if err == nil && p == nil {
			t.Fatal("no policy and no error")
		}
	})
}

// FuzzAddVEX: whatever an OpenVEX document holds, AddVEX takes it or says
// why not, and a policy with it evaluates findings without panicking.
// Seeds: testdata/fuzz/FuzzAddVEX.
func FuzzAddVEX(f *testing.F) {
	findings := []vuln.Finding{
		{ID: "CVE-2021-44906", Aliases: []string{"GHSA-xvch-5gv4-984h"}, Severity: vuln.Critical, FixedVersion: "1.2.6",
			Package: vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5"}},
		{ID: "CVE-2023-45853", Severity: vuln.Critical,
			Package: vuln.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", PURL: "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"}},
	}
	image := ImageIdentities("registry.example/app:1")
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Defaults()
		if err := p.AddVEX("fuzz.json", data); err != nil {
			return
		}
		v := p.Evaluate(Input{Findings: findings, Image: image, Now: now})
		if len(v.Suppressed)+len(v.Failing) > len(findings) {
			t.Fatalf("%d findings became %d suppressed and %d failing", len(findings), len(v.Suppressed), len(v.Failing))
		}
	})
}
