package plugin

import (
	"bytes"
	"context"
	"testing"

	"github.com/docker/cli/cli/command"
	"github.com/secure-build/secure-build/vuln"
)

// minimistFinding is the build-time finding of minimist 1.2.5, the
// testdata's CVE-2021-44906.
func minimistFinding() vuln.Finding {
	return vuln.Finding{
		ID: "CVE-2021-44906", Aliases: []string{"GHSA-xvch-5gv4-984h"},
		Package:      vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5", Ecosystem: "npm", MatchName: "minimist", MatchVersion: "1.2.5"},
		FixedVersion: "1.2.6", Severity: vuln.Critical, Summary: "Prototype Pollution in minimist",
	}
}

// testDB imports the npm records of vuln's testdata into a fresh database.
func testDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := vuln.Import(context.Background(), dir, []vuln.Source{{Path: "../vuln/testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// run runs the command line as the binary would, and returns its output
// and exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	dockerCli, err := command.NewDockerCli(command.WithOutputStream(&out), command.WithErrorStream(&errOut))
	if err != nil {
		t.Fatal(err)
	}
	cmd := NewRootCmd("docker-secure", dockerCli)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), ExitCode(err)
}
