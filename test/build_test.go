package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil"
)

// buildEnv is what a "docker secure build" end-to-end test runs against: a
// buildkitd that trusts a loopback registry, the test's namespace in that
// registry, a busybox base image pushed there, and an offline database of
// the test's own made from vuln's testdata.
type buildEnv struct {
	bk   *testutil.BuildKit
	reg  *testutil.Registry
	base testutil.PushedImage // HOST/base:1, busybox with a Debian os-release
	db   string
	// cache is the user cache folder of the builds, where the plugin keeps
	// the scanner it sends.
	cache string
}

// newBuildEnv is a buildEnv on the shared buildkitd.
func newBuildEnv(t *testing.T) *buildEnv {
	t.Helper()
	return newBuildEnvOn(t, buildKit(t))
}

// newBuildEnvOn is a buildEnv on bk.
func newBuildEnvOn(t *testing.T, bk *testutil.BuildKit) *buildEnv {
	t.Helper()
	e := &buildEnv{bk: bk, reg: registry(t), base: busyboxBase(t), db: filepath.Join(t.TempDir(), "db"), cache: t.TempDir()}
	e.importDB(t, "../vuln/testdata/osv/npm")
	return e
}

// importDB replaces the database's data with the OSV records in dirs.
func (e *buildEnv) importDB(t *testing.T, dirs ...string) {
	t.Helper()
	r := runCmd(t, nil, binary, append([]string{"db", "import", "--db", e.db}, dirs...)...)
	if r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
}

// build runs "docker-secure build" against the environment's buildkitd with
// plain progress; args come before the context folder.
func (e *buildEnv) build(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return e.buildWith(t, binary, dir, args...)
}

func (e *buildEnv) buildWith(t *testing.T, exe, dir string, args ...string) result {
	t.Helper()
	full := append([]string{"build", "--progress", "plain", "--db", e.db}, args...)
	return runCmd(t, []string{"BUILDKIT_HOST=" + e.bk.Addr, "XDG_CACHE_HOME=" + e.cache}, exe, append(full, dir)...)
}

// project writes a build context: the Dockerfile, with {{base}} standing for
// the pushed base image, and the other files.
func (e *buildEnv) project(t *testing.T, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["Dockerfile"] = strings.ReplaceAll(dockerfile, "{{base}}", e.base.Ref)
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// npmPackage is the package.json of an installed node module.
func npmPackage(name, version string) string {
	return `{"name":"` + name + `","version":"` + version + `","license":"MIT"}`
}

// Real advisory facts the tests' OSV records hold: minimist below 1.2.6 has
// CVE-2021-44906 (critical, fixed in 1.2.6); "listed" 2.0.1 has an unfixed
// critical written for the tests.
const (
	fixableCriticalID = "CVE-2021-44906"
	unfixedCriticalID = "GHSA-2099-last-aff"
)

// multiStage is a multi-stage Dockerfile whose build stage runs a command in
// the base image and whose final stage ships node modules.
const multiStage = `FROM {{base}} AS build
RUN mkdir -p /out && echo built > /out/artifact

FROM {{base}}
COPY --from=build /out /app
COPY node_modules /app/node_modules
`
