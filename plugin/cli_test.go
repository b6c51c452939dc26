package plugin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/spf13/pflag"
)

// minimistRoot is a root filesystem holding minimist 1.2.5, which has a
// fixable critical (CVE-2021-44906), and listed 2.0.1, which has an unfixed
// one (GHSA-2099-last-aff).
func minimistRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, version := range map[string]string{"minimist": "1.2.5", "listed": "2.0.1"} {
		pkg := filepath.Join(root, "app", "node_modules", name, "package.json")
		if err := os.MkdirAll(filepath.Dir(pkg), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pkg, []byte(`{"name":"`+name+`","version":"`+version+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestMistypedCommandIsUsageError: a mistyped command of a command group
// is refused with a suggestion and the usage status, not answered with the
// group's help and status 0.
func TestMistypedCommandIsUsageError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"db", "statsu"}, "unknown command \"statsu\" for \"docker-secure db\"\n\nDid you mean this?\n  status\n\nUsage:  docker-secure db COMMAND"},
		{[]string{"scna", "."}, "unknown command \"scna\" for \"docker-secure\"\n\nDid you mean this?\n  scan\n"},
	} {
		_, stderr, code := run(t, tc.args...)
		if code != ExitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want %d saying %q:\n%s", tc.args, code, ExitError, tc.want, stderr)
		}
	}
	if stdout, _, code := run(t, "db"); code != 0 || !strings.Contains(stdout, "Manage the offline vulnerability database") {
		t.Errorf("db alone: exit %d, want its help:\n%s", code, stdout)
	}
}

// TestUsageErrors: an unknown flag, a missing or extra argument and a bad
// flag value exit with the usage status, naming what is wrong once.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--bogus", "x"}, "unknown flag: --bogus\n\nUsage:  docker-secure scan [OPTIONS] TARGET\n\nRun 'docker-secure scan --help' for more information"},
		{[]string{"scan"}, `"docker-secure scan" requires 1 argument (TARGET), got 0`},
		{[]string{"build"}, `"docker-secure build" requires 1 argument (PATH | URL | -), got 0`},
		{[]string{"db", "import"}, `"docker-secure db import" requires at least 1 argument (PATH...)`},
		{[]string{"db", "status", "x"}, `"docker-secure db status" accepts no arguments, got ["x"]`},
		{[]string{"scan", "--fail-on", "hihg", "."}, `--fail-on "hihg": want critical, high, medium, low, unknown or none`},
		{[]string{"scan", "--incomplete", "maybe", "."}, `--incomplete "maybe": want fail, warn or off`},
		{[]string{"scan", "--exit-code", "126", "."}, "--exit-code 126: want 0 to 125"},
		{[]string{"verify", "--exit-code", "-1", "x"}, "--exit-code -1: want 0 to 125"},
		{[]string{"build", "--exit-code", "0", "."}, "--exit-code 0: a build its policy fails exports nothing"},
		{[]string{"build", "--report-format", "sarif", "."}, "--report-format sarif: no --report FILE to write it to"},
		{[]string{"build", "--fail-on", "hihg", "."}, `--fail-on "hihg": want critical`},
		{[]string{"scan", "--scope", "new", "."}, `--scope "new": want all or added`},
		{[]string{"build", "--scope", "new", "."}, `--scope "new": want all or added`},
	} {
		_, stderr, code := run(t, tc.args...)
		if code != ExitError || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want %d saying %q:\n%s", tc.args, code, ExitError, tc.want, stderr)
		}
		if strings.Contains(stderr, "fail-on: fail-on") || strings.Contains(stderr, "--incomplete: ") {
			t.Errorf("%q: a doubled prefix:\n%s", tc.args, stderr)
		}
	}
}

// TestScanExitCode: a failing policy exits ExitPolicyFailed, distinct from
// a build's and a usage error's; --exit-code sets another status, and 0
// reports the failure and passes.
func TestScanExitCode(t *testing.T) {
	db, root := testDB(t), minimistRoot(t)
	if _, stderr, code := run(t, "scan", "--db", db, root); code != 3 || !strings.Contains(stderr, "policy failed") {
		t.Errorf("default: exit %d, want 3:\n%s", code, stderr)
	}
	if _, stderr, code := run(t, "scan", "--db", db, "--exit-code", "1", root); code != 1 || !strings.Contains(stderr, "policy failed") {
		t.Errorf("--exit-code 1: exit %d, want 1:\n%s", code, stderr)
	}
	stdout, stderr, code := run(t, "scan", "--db", db, "--exit-code", "0", root)
	if code != 0 || !strings.Contains(stdout, "FAIL") || !strings.Contains(stderr, "policy failed (fail on: critical or higher, fixable only):\n  critical CVE-2021-44906") ||
		!strings.Contains(stderr, "reported only: --exit-code 0") {
		t.Errorf("--exit-code 0: exit %d, want 0 with the failure reported\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if _, stderr, code := run(t, "scan", "--db", db, "--exit-code", "0", "--fail-on", "none", root); code != 0 || strings.Contains(stderr, "policy failed") {
		t.Errorf("--exit-code 0, passing: exit %d\n%s", code, stderr)
	}
}

// TestIncludeUnfixable: the unfixed critical passes by default and fails
// with --include-unfixable; the deprecated --only-fixable=false still works.
func TestIncludeUnfixable(t *testing.T) {
	db, root := testDB(t), t.TempDir()
	pkg := filepath.Join(root, "node_modules", "listed", "package.json")
	if err := os.MkdirAll(filepath.Dir(pkg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, []byte(`{"name":"listed","version":"2.0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, "scan", "--db", db, root); code != 0 {
		t.Errorf("default: exit %d, want 0:\n%s", code, stderr)
	}
	for _, flag := range []string{"--include-unfixable", "--only-fixable=false"} {
		stdout, stderr, code := run(t, "scan", "--db", db, "--format", "json", flag, root)
		if code != ExitPolicyFailed || !strings.Contains(stderr, "policy failed (fail on: critical or higher):\n  critical GHSA-2099-last-aff listed 2.0.1 -> no fix yet") {
			t.Errorf("%s: exit %d, want %d naming the unfixed finding:\n%s", flag, code, ExitPolicyFailed, stderr)
		}
		warned := strings.Contains(stderr, "warning: --only-fixable is deprecated: use --include-unfixable")
		if warned != (flag == "--only-fixable=false") || strings.Contains(stdout, "deprecated") {
			t.Errorf("%s: the deprecation warning, on stderr only, is wrong:\nstdout:\n%.300s\nstderr:\n%s", flag, stdout, stderr)
		}
	}
}

// TestOnlyFixableFlags: what --include-unfixable and the deprecated
// --only-fixable set; nil leaves the policy's, the last one given wins.
func TestOnlyFixableFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "policy's"},
		{[]string{"--include-unfixable"}, "false"},
		{[]string{"--include-unfixable=false"}, "true"},
		{[]string{"--only-fixable=false"}, "false"},
		{[]string{"--only-fixable"}, "true"},
		{[]string{"--only-fixable=false", "--include-unfixable=false"}, "true"},
	} {
		flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
		flags.SetOutput(io.Discard)
		var only *bool
		bindOnlyFixable(flags, &only)
		if err := flags.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got := "policy's"
		if only != nil {
			got = map[bool]string{true: "true", false: "false"}[*only]
		}
		if got != tc.want {
			t.Errorf("%q: only-fixable %s, want %s", tc.args, got, tc.want)
		}
	}
	if f := newScanCmd(nil).Flags().Lookup("only-fixable"); f == nil || !f.Hidden || len(f.Annotations[deprecatedFlag]) == 0 {
		t.Errorf("--only-fixable is not kept as a hidden deprecated alias: %+v", f)
	}
}

// TestDBUpdateChecksEcosystems: an ecosystem OSV does not have is refused
// before anything is downloaded, with the OSV name meant.
func TestDBUpdateChecksEcosystems(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	for eco, want := range map[string]string{
		"golang": `--ecosystem "golang": not an OSV ecosystem; did you mean "Go"?`,
		"pypi":   `--ecosystem "pypi": not an OSV ecosystem; did you mean "PyPI"?`,
		"Foo":    `--ecosystem "Foo": not an OSV ecosystem (name them as OSV does: Alpine, Debian`,
	} {
		_, stderr, code := run(t, "db", "update", "--db", t.TempDir(), "--base-url", srv.URL, "--ecosystem", "Go", "--ecosystem", eco)
		if code != ExitError || !strings.Contains(stderr, want) {
			t.Errorf("--ecosystem %s: exit %d, want %d saying %q:\n%s", eco, code, ExitError, want, stderr)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d downloads before the ecosystems were checked", n)
	}
}

// TestVerifyExitCode: verify's policy failure has the same status as
// scan's, and --exit-code sets it.
func TestVerifyExitCode(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	db := testDB(t)
	ref := attesttest.Push(t, host, "app:1", attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true})
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, ExitPolicyFailed},
		{[]string{"--exit-code", "5"}, 5},
		{[]string{"--exit-code", "0"}, 0},
	} {
		_, stderr, code := run(t, append(append([]string{"verify", "--db", db}, tc.args...), ref)...)
		if code != tc.code || !strings.Contains(stderr, "policy failed for linux/amd64") {
			t.Errorf("%q: exit %d, want %d with the failure on stderr:\n%s", tc.args, code, tc.code, stderr)
		}
	}
}
