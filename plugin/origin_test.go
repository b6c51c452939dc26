package plugin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// TestPrintVerdictsOrigins: each platform's verdict says where its findings
// came from, a failing one too.
func TestPrintVerdictsOrigins(t *testing.T) {
	inherited := minimistFinding()
	inherited.Package.Origins = []origin.Origin{{Kind: origin.Base, Image: "node:22", Digest: "sha256:0123456789abcdef0123", StartLine: 1}}
	added := minimistFinding()
	added.ID = "CVE-2-added"
	added.Package.Origins = []origin.Origin{{Kind: origin.Instruction, StartLine: 4, Instruction: "RUN npm ci"}}
	scan := frontend.PlatformScan{Platform: "linux/amd64", Packages: 3, Report: &report.Scan{
		Findings: []vuln.Finding{inherited, added},
		Verdict:  policy.Verdict{Threshold: policy.Default.String(), Failing: []vuln.Finding{added}},
	}}
	var buf bytes.Buffer
	_ = printVerdicts(&buf, []frontend.PlatformScan{scan})
	if want := "\n  1 finding inherited from node:22@sha256:0123456789ab…, 1 finding added by Dockerfile:4\n"; !strings.Contains(buf.String(), want) {
		t.Errorf("printed:\n%s\nwant the line %q", buf.String(), want)
	}
}
