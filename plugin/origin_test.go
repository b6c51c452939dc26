package plugin

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"

	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"
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

// TestAttestedOrigins: inspect and verify show where each finding came
// from, as the build attributed it; verify's --scope added lets an
// inherited finding pass, and gates one the build did not attribute.
func TestAttestedOrigins(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	db := testDB(t)
	inherited := minimistFinding()
	inherited.Package.Origins = []origin.Origin{{Kind: origin.Base, Image: "node:22", Digest: "sha256:0123456789abcdef0123", StartLine: 1}}
	ref := attesttest.Push(t, host, "app:1", attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true,
		AtBuild: []vuln.Finding{inherited}})

	stdout, stderr, code := run(t, "inspect", ref)
	if code != 0 || !strings.Contains(stdout, "SEVERITY  ORIGIN        SUMMARY") || !strings.Contains(stdout, "critical  base node:22  Prototype Pollution") {
		t.Errorf("inspect: exit %d, want an ORIGIN column:\n%s\n%s", code, stdout, stderr)
	}

	stdout, stderr, code = run(t, "verify", "--db", db, ref)
	if code != ExitPolicyFailed || !strings.Contains(stdout, "ORIGIN") || !strings.Contains(stdout, "base node:22") ||
		!strings.Contains(stdout, "1 finding inherited from node:22@sha256:0123456789ab…") {
		t.Errorf("verify: exit %d, want %d with the build's origins:\n%s\n%s", code, ExitPolicyFailed, stdout, stderr)
	}
	stdout, stderr, code = run(t, "verify", "--db", db, "--scope", "added", ref)
	if code != 0 || !strings.Contains(stdout, "PASS (fail on: critical or higher, fixable only, scope added: inherited findings do not gate)") {
		t.Errorf("verify --scope added: exit %d, want 0: the finding is inherited:\n%s\n%s", code, stdout, stderr)
	}

	// Nothing at build attributed minimist here: scope added gates it.
	ref = attesttest.Push(t, host, "app:2", attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true})
	if stdout, stderr, code = run(t, "verify", "--db", db, "--scope", "added", ref); code != ExitPolicyFailed || !strings.Contains(stdout, "could not be attributed") {
		t.Errorf("verify --scope added, no origins: exit %d, want %d (fail closed):\n%s\n%s", code, ExitPolicyFailed, stdout, stderr)
	}
}

// TestWarningSnippet: a warning about a Dockerfile range shows those lines
// marked, as a build error does, escaped, once for each range; one without
// a source does not.
func TestWarningSnippet(t *testing.T) {
	info := &pb.SourceInfo{Filename: "Dockerfile", Data: []byte("FROM debian:12-slim\nRUN apt-get update && \\\n    apt-get install -y curl\x1b[2J\nCMD [\"curl\"]\n")}
	var buf bytes.Buffer
	printWarnings(&buf, []client.VertexWarning{
		{Short: []byte("linux/amd64: CVE-2024-1 in curl (added by Dockerfile:2-3)"), SourceInfo: info,
			Range: []*pb.Range{{Start: &pb.Position{Line: 2}, End: &pb.Position{Line: 3}}}},
		{Short: []byte("linux/amd64: no source")},
		{Short: []byte("linux/amd64: CVE-2024-2 in curl (added by Dockerfile:2-3)"), SourceInfo: info,
			Range: []*pb.Range{{Start: &pb.Position{Line: 2}, End: &pb.Position{Line: 3}}}},
	})
	out := buf.String()
	noRawControl(t, "warning snippet", out)
	for _, want := range []string{
		" - linux/amd64: CVE-2024-1 in curl (added by Dockerfile:2-3)\nDockerfile:2\n--------------------\n",
		"   1 |     FROM debian:12-slim\n",
		"   2 | >>> RUN apt-get update && \\\n",
		"   3 | >>>     apt-get install -y curl\\x1b[2J\n",
		"--------------------\n - linux/amd64: no source\n - linux/amd64: CVE-2024-2 in curl (added by Dockerfile:2-3)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("warnings lack %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Dockerfile:2\n"); n != 1 {
		t.Errorf("the lines of one range are shown %d times, want once:\n%s", n, out)
	}
}
