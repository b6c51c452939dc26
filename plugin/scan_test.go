package plugin

import (
	"bytes"
	"errors"
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
	var out, errOut bytes.Buffer
	dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut))
	if err != nil {
		t.Fatal(err)
	}
	cmd := NewRootCmd("docker-secure", dockerCli)
	cmd.SetArgs([]string{"scan", "--db", db, root})
	err = cmd.ExecuteContext(t.Context())

	if code := ExitCode(err); code != ExitPolicyFailed {
		t.Fatalf("exit %d, want %d: %v", code, ExitPolicyFailed, err)
	}
	pe, ok := errors.AsType[*scan.PolicyError](err)
	if !ok || len(pe.Verdict.Failing) != 1 || pe.Verdict.Failing[0].ID != "CVE-2021-44906" {
		t.Errorf("the error %v does not keep the policy's failure on CVE-2021-44906", err)
	}
	if want := "policy failed (fail on: critical or higher, fixable only):\n  critical CVE-2021-44906 minimist 1.2.5 -> 1.2.6"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
}
