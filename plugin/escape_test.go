package plugin

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"

	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"

	"github.com/docker/cli/cli"
	"github.com/moby/buildkit/client"
	"github.com/spf13/cobra"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// hostile is what an image can put in a package name or an os-release
// field: cursor up, erase the line, back to its start, a line of its own.
const hostile = "\x1b[1A\x1b[2K\r\nPASS\x1b]0;t\x07"

// escapedHostile is hostile as the human outputs show it.
const escapedHostile = `\x1b[1A\x1b[2K\r\nPASS\x1b]0;t\x07`

// noRawControl fails the test when out holds a control character other
// than a newline or a tab.
func noRawControl(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			t.Errorf("%s: raw %U in %q", what, r, out)
			return
		}
	}
}

// TestBuildWarningsEscaped: the build's warnings, which quote the image,
// are printed escaped.
func TestBuildWarningsEscaped(t *testing.T) {
	var buf bytes.Buffer
	printWarnings(&buf, []client.VertexWarning{{Short: []byte("package evil" + hostile + " is odd")}})
	noRawControl(t, "warnings", buf.String())
	if !strings.Contains(buf.String(), " - package evil"+escapedHostile+" is odd\n") {
		t.Errorf("warning not shown escaped: %q", buf.String())
	}
}

// TestStatusWarningsEscaped: the frontend's warnings are escaped before
// BuildKit's display prints them as they come.
func TestStatusWarningsEscaped(t *testing.T) {
	s := printableStatus(&client.SolveStatus{Warnings: []*client.VertexWarning{{Short: []byte("evil" + hostile), Detail: [][]byte{[]byte("d" + hostile)}}}})
	if got := string(s.Warnings[0].Short); got != "evil"+escapedHostile {
		t.Errorf("short %q", got)
	}
	if got := string(s.Warnings[0].Detail[0]); got != "d"+escapedHostile {
		t.Errorf("detail %q", got)
	}
}

// TestErrorsEscaped: an error quoting image content reaches the terminal
// escaped, its own lines kept (so a newline in what it quotes stays one:
// the messages that list image content, policy failures, escape it
// themselves), its exit status kept.
func TestErrorsEscaped(t *testing.T) {
	hostile := strings.ReplaceAll(hostile, "\n", "")
	escapedHostile := strings.ReplaceAll(escapedHostile, `\n`, "")
	for _, cause := range []error{
		errors.New("read /var/lib/dpkg/status" + hostile + ":\n  bad stanza"),
		cli.StatusError{StatusCode: ExitPolicyFailed, Status: "policy failed:\n  critical CVE-1 evil" + hostile},
	} {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return cause }}
		withExitStatus(cmd)
		cmd.SetArgs(nil)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SilenceUsage = true
		err := cmd.Execute()
		noRawControl(t, "error", err.Error())
		if !strings.Contains(err.Error(), escapedHostile) || !strings.Contains(err.Error(), ":\n  ") {
			t.Errorf("error not shown escaped with its lines: %q", err)
		}
		want := ExitError
		if _, ok := cause.(cli.StatusError); ok {
			want = ExitPolicyFailed
		}
		if ExitCode(err) != want {
			t.Errorf("exit %d, want %d", ExitCode(err), want)
		}
	}
}

// TestSBOMTableEscaped: the package table escapes names, versions, paths
// and the distribution's name; the SPDX document keeps them exact.
func TestSBOMTableEscaped(t *testing.T) {
	doc := &sbom.SBOM{
		Distro:   &sbom.Distro{ID: "debian", PrettyName: "Debian" + hostile},
		Packages: []sbom.Package{{Name: "evil" + hostile, Version: "1" + hostile, Type: "npm", PURL: "pkg:npm/evil@1", Locations: []string{"/app/x" + hostile}}},
	}
	write, err := sbomWriter("table")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := write(doc, &buf, sbom.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	noRawControl(t, "sbom table", buf.String())
	for _, want := range []string{"Distribution: Debian" + escapedHostile, "evil" + escapedHostile, "/app/x" + escapedHostile} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table does not show %q:\n%s", want, buf.String())
		}
	}
	if doc.Packages[0].Name != "evil"+hostile {
		t.Errorf("the table changed the SBOM itself: %q", doc.Packages[0].Name)
	}
	buf.Reset()
	if err := doc.WriteSPDX(&buf, sbom.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	noRawControl(t, "SPDX", buf.String())
	if !strings.Contains(buf.String(), `evil\u001b[1A\u001b[2K\r\nPASS\u001b]0;t\u0007`) {
		t.Errorf("SPDX does not keep the exact name, JSON-escaped:\n%.600s", buf.String())
	}
}

// TestInspectTableEscaped: what a pushed image's attestations say is
// written escaped in inspect's table.
func TestInspectTableEscaped(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	evil := vuln.Finding{ID: "CVE-2099-0002", Package: vuln.Package{Name: "evil" + hostile, Version: "1", PURL: "pkg:npm/evil@1"}, Severity: vuln.Low, Summary: "s" + hostile}
	ref := attesttest.Push(t, host, "app:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true, AtBuild: []vuln.Finding{evil},
			Suppressed: []policy.Suppressed{{Finding: evil, By: "vex", Status: "not_affected", Reason: "r" + hostile, Source: "v" + hostile}}})
	stdout, stderr, code := run(t, "inspect", ref)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	noRawControl(t, "inspect", stdout)
	if !strings.Contains(stdout, "evil"+escapedHostile) {
		t.Errorf("inspect does not show the name escaped:\n%s", stdout)
	}
}
