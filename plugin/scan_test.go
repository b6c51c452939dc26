package plugin

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/command"

	"github.com/secure-build/secure-build/scan"
	"github.com/secure-build/secure-build/vuln"
)

// TestScanPolicyFailureKeepsItsCause: a scan failing its policy exits
// ExitPolicyFailed, says why, and keeps the scan's PolicyError as the
// cause, for errors.As, through the status every command's error gets.
func TestScanPolicyFailureKeepsItsCause(t *testing.T) {
	db := t.TempDir()
	if _, err := vuln.Import(t.Context(), db, []vuln.Source{{Path: "../vuln/testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	pkg := filepath.Join(root, "app", "node_modules", "minimist", "package.json")
	if err := os.MkdirAll(filepath.Dir(pkg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, []byte(`{"name":"minimist","version":"1.2.5"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	scanCmd := func(args ...string) (stdout string, err error) {
		var out, errOut bytes.Buffer
		dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut))
		if err != nil {
			t.Fatal(err)
		}
		cmd := NewRootCmd("docker-secure", dockerCli)
		cmd.SetArgs(append(append([]string{"scan", "--db", db}, args...), root))
		err = cmd.ExecuteContext(t.Context())
		return out.String(), err
	}

	// The table on standard output ends with the verdict: the error only
	// points at it, and keeps its cause.
	out, err := scanCmd()
	if code := ExitCode(err); code != ExitPolicyFailed {
		t.Fatalf("exit %d, want %d: %v", code, ExitPolicyFailed, err)
	}
	pe, ok := errors.AsType[*scan.PolicyError](err)
	if !ok || len(pe.Verdict.Failing) != 1 || pe.Verdict.Failing[0].ID != "CVE-2021-44906" {
		t.Errorf("the error %v does not keep the policy's failure on CVE-2021-44906", err)
	}
	if !strings.HasSuffix(out, "\nFAIL (fail on: critical or higher, fixable only): CVE-2021-44906\n") || err.Error() != "policy failed: see the verdict above" {
		t.Errorf("the verdict is not said once, last:\nstdout:\n%s\nerror: %v", out, err)
	}

	// Another format: the error is the verdict, the threshold said once.
	_, err = scanCmd("--format", "json")
	if want := "policy failed (fail on: critical or higher, fixable only):\n  critical CVE-2021-44906 minimist 1.2.5 -> 1.2.6"; ExitCode(err) != ExitPolicyFailed || err.Error() != want {
		t.Errorf("--format json: error %q, want %q", err, want)
	}
}

// TestScanSummary: --summary writes the counts and the verdict, not the
// findings; it is a form of the table only.
func TestScanSummary(t *testing.T) {
	db := t.TempDir()
	if _, err := vuln.Import(t.Context(), db, []vuln.Source{{Path: "../vuln/testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	pkg := filepath.Join(root, "app", "node_modules", "minimist", "package.json")
	if err := os.MkdirAll(filepath.Dir(pkg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, []byte(`{"name":"minimist","version":"1.2.5"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		cmd := NewRootCmd("docker-secure", dockerCli)
		cmd.SetArgs(append(append([]string{"scan", "--db", db}, args...), root))
		err = cmd.ExecuteContext(t.Context())
		return out.String(), err
	}
	full, _ := run()
	short, err := run("--summary")
	if ExitCode(err) != ExitPolicyFailed || !strings.Contains(full, "fixed in 1.2.6") || strings.Contains(short, "fixed in 1.2.6") ||
		!strings.Contains(short, "critical  1         1") || !strings.HasSuffix(short, "FAIL (fail on: critical or higher, fixable only): CVE-2021-44906\n") {
		t.Errorf("--summary: exit %d\n%s\nthe full table:\n%s", ExitCode(err), short, full)
	}
	if _, err := run("--summary", "--format", "json"); ExitCode(err) != ExitError || !strings.Contains(err.Error(), "--summary") {
		t.Errorf("--summary --format json: %v, want a usage error naming --summary", err)
	}
}
