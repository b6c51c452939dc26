package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"
)

// The exit statuses the README documents, the same for every command.
const (
	exitBuildFailed  = 1
	exitUsage        = 2
	exitPolicyFailed = 3
)

// cliWay runs docker-secure one way: through the docker CLI with the
// plugin installed, or the binary standalone.
type cliWay struct {
	name string
	run  func(t *testing.T, env []string, args ...string) result
}

// dockerAndStandalone are the two ways of running docker-secure, each with the
// environment it needs.
func dockerAndStandalone(t *testing.T) []cliWay {
	plugin := pluginConfig(t)
	return []cliWay{
		{"docker secure", func(t *testing.T, env []string, args ...string) result {
			return runCmd(t, append(env, plugin...), "docker", append([]string{"secure"}, args...)...)
		}},
		{"docker-secure", func(t *testing.T, env []string, args ...string) result {
			return runCmd(t, env, binary, args...)
		}},
	}
}

// npmRoot is a root filesystem holding one node module.
func npmRoot(t *testing.T, name, version string) string {
	t.Helper()
	root := t.TempDir()
	pkg := filepath.Join(root, "app", "node_modules", name, "package.json")
	if err := os.MkdirAll(filepath.Dir(pkg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pkg, []byte(npmPackage(name, version)), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestUsageErrorsThroughDockerCLI: a mistyped command, an unknown flag and
// a missing argument exit 2 with what is wrong and the usage, under the
// docker CLI (which would print help and exit 0, exit 125, or exit 1) as
// standalone.
func TestUsageErrorsThroughDockerCLI(t *testing.T) {
	t.Parallel()
	for _, inv := range dockerAndStandalone(t) {
		path := inv.name
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"scna", "."}, []string{`unknown command "scna" for "` + path + `"`, "Did you mean this?\n  scan\n", "Usage:  " + path + " COMMAND"}},
			{[]string{"db", "statsu"}, []string{`unknown command "statsu" for "` + path + ` db"`, "Did you mean this?\n  status\n"}},
			{[]string{"scan", "--bogus", "."}, []string{"unknown flag: --bogus", "Usage:  " + path + " scan [OPTIONS] TARGET"}},
			{[]string{"build", "--bogus", "."}, []string{"unknown flag: --bogus", "Usage:  " + path + " build [OPTIONS] PATH"}},
			{[]string{"scan"}, []string{`"` + path + ` scan" requires 1 argument (TARGET), got 0`}},
			{[]string{"build"}, []string{`"` + path + ` build" requires 1 argument (PATH | URL | -), got 0`}},
			{[]string{"verify", "a", "b"}, []string{`"` + path + ` verify" requires 1 argument (IMAGE), got 2`}},
			{[]string{"build", "--exit-code", "0", "."}, []string{"--exit-code 0: a build its policy fails exports nothing"}},
			{[]string{"build", "--report-format", "sarif", "."}, []string{"--report-format sarif: no --report FILE to write it to"}},
			{[]string{"scan", "--fail-on", "hihg", "."}, []string{`--fail-on "hihg": want critical, high`}},
			{[]string{"db", "update", "--ecosystem", "golang"}, []string{`--ecosystem "golang": not an OSV ecosystem; did you mean "Go"?`}},
		} {
			r := inv.run(t, nil, tc.args...)
			if r.Code != exitUsage {
				t.Errorf("%s %q: exit %d, want %d\n%s%s", inv.name, tc.args, r.Code, exitUsage, r.Stdout, r.Stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("%s %q: stderr does not say %q:\n%s", inv.name, tc.args, want, r.Stderr)
				}
			}
		}
		if r := inv.run(t, nil, "db"); r.Code != 0 || !strings.Contains(r.Stdout, "Manage the offline vulnerability database") {
			t.Errorf("%s db: exit %d, want its help\n%s%s", inv.name, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// TestPolicyExitCodesThroughDockerCLI: scan and verify exit 3 when the
// policy fails, --exit-code sets another status and 0 only reports;
// --include-unfixable, and the deprecated --only-fixable=false, fail on the
// unfixed finding the default passes.
func TestPolicyExitCodesThroughDockerCLI(t *testing.T) {
	// Not in parallel: its registry gives the test an empty DOCKER_CONFIG.
	db := filepath.Join(t.TempDir(), "db")
	if r := runCmd(t, nil, binary, "db", "import", "--db", db, "../vuln/testdata/osv/npm"); r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
	fixable, unfixed := npmRoot(t, "minimist", "1.2.5"), npmRoot(t, "listed", "2.0.1")
	host := testutil.MemoryRegistry(t, nil)
	image := attesttest.Push(t, host, "app:1", attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true})

	for _, inv := range dockerAndStandalone(t) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"scan", "--db", db, fixable}, exitPolicyFailed, "policy failed: see the verdict above"},
			{[]string{"scan", "--db", db, "--format", "json", fixable}, exitPolicyFailed, "critical " + fixableCriticalID + " minimist 1.2.5 -> 1.2.6"},
			{[]string{"scan", "--db", db, "--exit-code", "1", fixable}, 1, "policy failed"},
			{[]string{"scan", "--db", db, "--exit-code", "0", fixable}, 0, "reported only: --exit-code 0"},
			{[]string{"scan", "--db", db, unfixed}, 0, ""},
			{[]string{"scan", "--db", db, "--format", "json", "--include-unfixable", unfixed}, exitPolicyFailed, unfixedCriticalID + " listed 2.0.1 -> no fix yet"},
			{[]string{"scan", "--db", db, "--only-fixable=false", unfixed}, exitPolicyFailed, "warning: --only-fixable is deprecated: use --include-unfixable"},
			{[]string{"verify", "--db", db, image}, exitPolicyFailed, "policy failed for linux/amd64"},
			{[]string{"verify", "--db", db, "--exit-code", "7", image}, 7, "policy failed for linux/amd64"},
			{[]string{"verify", "--db", db, "--exit-code", "0", image}, 0, "reported only: --exit-code 0"},
			{[]string{"sbom", filepath.Join(t.TempDir(), "missing")}, exitUsage, "missing"},
		} {
			r := inv.run(t, nil, tc.args...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("%s %q: exit %d, want %d saying %q\n%s", inv.name, tc.args, r.Code, tc.code, tc.want, r.Stderr)
			}
		}
	}
}

// TestBuildExitCodesThroughDockerCLI: a build its policy fails exits 3 and
// still writes --sbom-output and --report, a broken build 1 without a
// doubled prefix, --exit-code sets the policy's status; --include-unfixable
// and the build arg SECURE_BUILD_ONLY_FIXABLE=false fail on an unfixed
// finding.
func TestBuildExitCodesThroughDockerCLI(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	env := []string{"BUILDKIT_HOST=" + e.bk.Addr, "XDG_CACHE_HOME=" + e.cache}
	fixable := e.project(t, multiStage, map[string]string{"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5")})
	unfixed := e.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	broken := e.project(t, "FROM {{base}}\nRUN exit 3\n", map[string]string{})
	build := func(args ...string) []string {
		return append([]string{"build", "--progress", "plain", "--db", e.db}, args...)
	}
	for _, inv := range dockerAndStandalone(t) {
		out := t.TempDir()
		sbomFile, reportFile := filepath.Join(out, "app.spdx.json"), filepath.Join(out, "scan.sarif")
		r := inv.run(t, env, build("--sbom-output", sbomFile, "--report", reportFile, "--report-format", "sarif", fixable)...)
		if r.Code != exitPolicyFailed || !strings.Contains(r.Stderr, "critical "+fixableCriticalID+" in minimist 1.2.5 -> 1.2.6") {
			t.Errorf("%s build, fixable critical: exit %d, want %d\n%s", inv.name, r.Code, exitPolicyFailed, r.Stderr)
		}
		for _, f := range []string{sbomFile, reportFile} {
			if b, err := os.ReadFile(f); err != nil || len(b) == 0 {
				t.Errorf("%s build, fixable critical: %s not written: %v", inv.name, f, err)
			}
		}
		r = inv.run(t, env, build(broken)...)
		if r.Code != exitBuildFailed || !strings.Contains(r.Stderr, "did not complete successfully: exit code: 3") || strings.Contains(r.Stderr, "build failed: failed to solve") {
			t.Errorf("%s build, RUN exit 3: exit %d, want %d with one prefix\n%s", inv.name, r.Code, exitBuildFailed, r.Stderr)
		}
	}
	// The rest once, through the docker CLI.
	docker := dockerAndStandalone(t)[0]
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{build("--exit-code", "1", fixable), 1, "secure-build policy failed for linux/amd64"},
		{build(unfixed), 0, "secure-build linux/amd64: PASS"},
		{build("--include-unfixable", unfixed), exitPolicyFailed, unfixedCriticalID + " in listed 2.0.1 -> no fix yet"},
		{build("--build-arg", "SECURE_BUILD_ONLY_FIXABLE=false", unfixed), exitPolicyFailed, unfixedCriticalID + " in listed 2.0.1 -> no fix yet"},
		{build("--only-fixable=false", unfixed), exitPolicyFailed, "warning: --only-fixable is deprecated: use --include-unfixable"},
	} {
		r := docker.run(t, env, tc.args...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("docker secure %q: exit %d, want %d saying %q\n%s", tc.args, r.Code, tc.code, tc.want, r.Stderr)
		}
	}
}

// TestStaleDatabaseAgeThroughDockerCLI: a database a few seconds older than
// --max-db-age is said to be that old, not "0s" (the age was rounded to
// the hour).
func TestStaleDatabaseAgeThroughDockerCLI(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "db")
	if r := runCmd(t, nil, binary, "db", "import", "--db", db, "../vuln/testdata/osv/npm"); r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
	time.Sleep(2 * time.Second)
	r := runCmd(t, pluginConfig(t), "docker", "secure", "db", "status", "--db", db, "--max-db-age", "1s")
	if stale := regexp.MustCompile(`last updated [2-9]s ago \(more than 1s\)`); r.Code != 0 || !stale.MatchString(r.Stderr) {
		t.Errorf("db status --max-db-age 1s of a 2-second-old database: exit %d, want a warning matching %s:\n%s", r.Code, stale, r.Stderr)
	}
}
