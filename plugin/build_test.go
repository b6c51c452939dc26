package plugin

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

func TestPlatformFile(t *testing.T) {
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{"out/app.spdx.json", 1, "out/app.spdx.json"},
		{"out/app.spdx.json", 2, "out/app.linux-arm64.spdx.json"},
		{"report", 2, "report.linux-arm64"},
	} {
		if got := platformFile(tc.path, "linux/arm64", tc.n); got != tc.want {
			t.Errorf("platformFile(%q, %d) = %q, want %q", tc.path, tc.n, got, tc.want)
		}
	}
}

// TestBuildRefusesPlantedIIDFile: --iidfile and --metadata-file, written
// after the export, are checked before anything is built.
func TestBuildRefusesPlantedIIDFile(t *testing.T) {
	link := filepath.Join(t.TempDir(), "iid")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []buildOptions{{iidFile: link}, {metadataFile: link}} {
		if err := checkScanFlags(opts); err == nil || !strings.Contains(err.Error(), link+": is a symbolic link") {
			t.Errorf("%+v: %v, want the link refused before the build", opts, err)
		}
	}
}

// TestPrintVerdicts: a passing platform gets its verdict and counts, the
// counts saying what was suppressed; a failing one only its counts, its
// verdict being the error printed last.
func TestPrintVerdicts(t *testing.T) {
	critical := vuln.Finding{ID: "CVE-2021-44906", Severity: vuln.Critical, FixedVersion: "1.2.6", Package: vuln.Package{Name: "minimist", Version: "1.2.5"}}
	threshold := policy.Default.String()
	passed := frontend.PlatformScan{Platform: "linux/amd64", Packages: 3, DatabaseAge: 2 * time.Hour, Report: &report.Scan{
		Findings: []vuln.Finding{critical},
		Verdict: policy.Verdict{Pass: true, Threshold: threshold, Suppressed: []policy.Suppressed{
			{Finding: critical, By: "ignore", Status: "not_affected", Reason: "not reachable", Source: "secure-build.yaml:3"}}},
	}}
	failed := frontend.PlatformScan{Platform: "linux/arm64", Packages: 3, DatabaseAge: 2 * time.Hour, Report: &report.Scan{
		Findings: []vuln.Finding{critical},
		Verdict:  policy.Verdict{Threshold: threshold, Failing: []vuln.Finding{critical}},
	}}
	var buf bytes.Buffer
	err := printVerdicts(&buf, []frontend.PlatformScan{failed, passed})
	want := "\nsecure-build linux/amd64: PASS (fail on: critical or higher, fixable only)\n" +
		"  critical: 1 fixable of 1 (1 suppressed); 3 packages; database 2 hours old\n" +
		"secure-build linux/arm64: critical: 1 fixable of 1; 3 packages; database 2 hours old\n"
	if buf.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", buf.String(), want)
	}
	pe, ok := errors.AsType[*frontend.PolicyError](err)
	if !ok || len(pe.Scans) != 1 || pe.Scans[0].Platform != "linux/arm64" || strings.Count(err.Error(), "CVE-2021-44906") != 1 {
		t.Errorf("error %v, want the policy error of linux/arm64 naming CVE-2021-44906 once", err)
	}
}
