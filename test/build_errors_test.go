package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildDockerfileErrorsUnchanged: a Dockerfile that BuildKit's own
// Dockerfile frontend rejects fails the same way through docker secure build,
// with the same message, and exit status 1.
func TestBuildDockerfileErrorsUnchanged(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	for name, tc := range map[string]struct{ dockerfile, want string }{
		"parse":  {"FROM {{base}}\nFRM {{base}}\n", "unknown instruction: FRM"},
		"run":    {"FROM {{base}}\nRUN exit 3\n", `did not complete successfully: exit code: 3`},
		"target": {"FROM {{base}} AS app\n", `target stage "nope" could not be found`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := e.project(t, tc.dockerfile, map[string]string{})
			args := []string{}
			if name == "target" {
				args = append(args, "--target", "nope")
			}
			r := e.build(t, dir, args...)
			if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("docker secure build: exit %d, want 1 saying %q:\n%s", r.Code, tc.want, r.Stderr)
			}
			plain := runCmd(t, nil, e.bk.Buildctl, append([]string{"--addr", e.bk.Addr, "build", "--frontend", "dockerfile.v0",
				"--local", "context=" + dir, "--local", "dockerfile=" + dir}, targetOpt(args)...)...)
			if plain.Code == 0 || !strings.Contains(plain.Stderr, tc.want) {
				t.Errorf("the Dockerfile frontend itself does not fail saying %q (exit %d):\n%s", tc.want, plain.Code, plain.Stderr)
			}
		})
	}
}

func targetOpt(args []string) []string {
	if len(args) == 2 && args[0] == "--target" {
		return []string{"--opt", "target=" + args[1]}
	}
	return nil
}

// TestBuildWithoutDatabase: no database fails the build before it starts,
// saying how to get one; a database context without data fails the scan
// step with the same advice.
func TestBuildWithoutDatabase(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	empty := t.TempDir()
	r := runCmd(t, []string{"BUILDKIT_HOST=" + e.bk.Addr, "XDG_CACHE_HOME=" + e.cache}, binary,
		"build", "--progress", "plain", "--db", empty, dir)
	if r.Code != 1 || !strings.Contains(r.Stderr, "docker secure db update") || !strings.Contains(r.Stderr, empty) {
		t.Errorf("--db with no data: exit %d, want 1 naming the folder and how to get data:\n%s", r.Code, r.Stderr)
	}
	r = e.build(t, dir, "--build-context", "secure-build-db="+empty)
	if r.Code != 1 || !strings.Contains(r.Stderr, "docker secure db update") {
		t.Errorf("an empty secure-build-db context: exit %d, want 1 with how to get data:\n%s", r.Code, r.Stderr)
	}
}

// TestBuildForeignSyntaxWarns: a "# syntax=" line is not followed (that
// would need a registry); the build uses the bundled frontend and says so.
func TestBuildForeignSyntaxWarns(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, "# syntax=docker/dockerfile:1\n"+multiStage, map[string]string{"node_modules/x/package.json": npmPackage("x", "1.0.0")})
	r := e.build(t, dir)
	if r.Code != 0 || !strings.Contains(r.Stderr, "# syntax=docker/dockerfile:1 is not followed") {
		t.Errorf("exit %d, want a build with a warning about the syntax line:\n%s", r.Code, r.Stderr)
	}
}

// TestBuildOutputs: an OCI tar with the image index, the SBOM and report
// files, --iidfile and --metadata-file; a later build stopped by the policy
// leaves every one of those files as it was.
func TestBuildOutputs(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	files := map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")}
	dir := e.project(t, multiStage, files)
	out := t.TempDir()
	path := func(name string) string { return filepath.Join(out, name) }
	args := []string{"-o", "type=oci,dest=" + path("app.tar"), "--sbom-output", path("app.spdx.json"),
		"--report", path("scan.sarif"), "--report-format", "sarif", "--iidfile", path("iid"), "--metadata-file", path("metadata.json")}
	r := e.build(t, dir, args...)
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	before := map[string]string{}
	for _, name := range []string{"app.tar", "app.spdx.json", "scan.sarif", "iid", "metadata.json"} {
		b, err := os.ReadFile(path(name))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s not written: %v", name, err)
		}
		before[name] = string(b)
	}
	if !strings.Contains(before["app.spdx.json"], `"SPDX-2.3"`) || !strings.Contains(before["scan.sarif"], unfixedCriticalID) ||
		!strings.HasPrefix(before["iid"], "sha256:") || !strings.Contains(before["metadata.json"], "containerimage.digest") {
		t.Errorf("the files do not hold what they should:\nSBOM %.200s\nSARIF %.200s\niid %s\nmetadata %s",
			before["app.spdx.json"], before["scan.sarif"], before["iid"], before["metadata.json"])
	}

	bad := e.project(t, multiStage, map[string]string{"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5")})
	if r := e.build(t, bad, args...); r.Code != 3 {
		t.Fatalf("the failing build: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	for name, content := range before {
		if name == "app.spdx.json" || name == "scan.sarif" {
			continue // written for the failed build too: they show why it failed
		}
		if b, _ := os.ReadFile(path(name)); string(b) != content {
			t.Errorf("%s changed although the build failed", name)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != len(before) {
		t.Errorf("files left in the output folder: %v", entries)
	}
}
