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

	"github.com/creack/pty"
	"github.com/docker/cli/cli/command"
	"github.com/moby/buildkit/util/progress/progressui"
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
	for _, opts := range []buildOptions{{iidFile: link, exitCode: ExitPolicyFailed}, {metadataFile: link, exitCode: ExitPolicyFailed}} {
		if err := checkScanFlags(newBuildCmd(nil).Flags(), opts); err == nil || !strings.Contains(err.Error(), link+": is a symbolic link") {
			t.Errorf("%+v: %v, want the link refused before the build", opts, err)
		}
	}
}

// TestDisplayMode: --progress and --quiet read as docker buildx build reads
// them.
func TestDisplayMode(t *testing.T) {
	for _, tc := range []struct {
		progress, env string
		quiet         bool
		want          progressui.DisplayMode
		printImageID  bool
		err           string
	}{
		{progress: "auto", want: progressui.AutoMode},
		{progress: "auto", env: "plain", want: progressui.PlainMode},
		{progress: "tty", env: "plain", want: progressui.TtyMode},
		{progress: "quiet", want: progressui.QuietMode, printImageID: true},
		{progress: "auto", quiet: true, want: progressui.QuietMode, printImageID: true},
		{progress: "auto", env: "plain", quiet: true, want: progressui.QuietMode, printImageID: true},
		{progress: "none", want: progressui.QuietMode},
		{progress: "none", quiet: true, want: progressui.QuietMode, printImageID: true},
		{progress: "plain", quiet: true, err: "--progress plain and --quiet cannot be used together"},
		{progress: "fancy", err: `--progress "fancy": want auto, none, plain, quiet, rawjson or tty`},
		{progress: "auto", env: "fancy", err: `BUILDKIT_PROGRESS="fancy": want auto, plain, quiet, rawjson or tty`},
	} {
		t.Setenv("BUILDKIT_PROGRESS", tc.env)
		mode, printImageID, err := buildOptions{progress: tc.progress, quiet: tc.quiet}.displayMode()
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%+v: %v, want %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || mode != tc.want || printImageID != tc.printImageID {
			t.Errorf("%+v: %q, %v, %v; want %q, %v", tc, mode, printImageID, err, tc.want, tc.printImageID)
		}
	}
}

// TestProgressOutputIsTheTerminal: BuildKit's TTY display finds the
// terminal behind the CLI's standard error.
func TestProgressOutputIsTheTerminal(t *testing.T) {
	terminal, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer terminal.Close()
	defer tty.Close()
	dockerCli, err := command.NewDockerCli(command.WithErrorStream(tty))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := progressui.NewDisplay(progressOutput(dockerCli), progressui.TtyMode); err != nil {
		t.Errorf("--progress tty on a terminal: %v", err)
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
