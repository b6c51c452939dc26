package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildEnv is what a "docker secure build" end-to-end test runs against: a
// private buildkitd that trusts a loopback registry, a busybox base image
// pushed there, and an offline database made from vuln's testdata.
type buildEnv struct {
	bk   *buildkit
	reg  *registry
	base pushedImage // HOST/base:1, busybox with a Debian os-release
	db   string
	// cache is the user cache folder of the builds, where the plugin keeps
	// the scanner it sends.
	cache string
}

func newBuildEnv(t *testing.T) *buildEnv {
	t.Helper()
	reg := startRegistry(t)
	bk := startBuildKit(t, reg.host)
	e := &buildEnv{bk: bk, reg: reg, db: filepath.Join(t.TempDir(), "db"), cache: t.TempDir()}
	e.base = bk.pushBusyboxBase(t, reg, "base:1", "ID=debian\nVERSION_ID=12\nVERSION_CODENAME=bookworm\n")
	e.importDB(t, "../vuln/testdata/osv/npm")
	return e
}

// importDB replaces the database's data with the OSV records in dirs.
func (e *buildEnv) importDB(t *testing.T, dirs ...string) {
	t.Helper()
	r := runCmd(t, nil, binary, append([]string{"db", "import", "--db", e.db}, dirs...)...)
	if r.code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.code, r.stderr)
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
	return runCmd(t, []string{"BUILDKIT_HOST=" + e.bk.addr, "XDG_CACHE_HOME=" + e.cache}, exe, append(full, dir)...)
}

// project writes a build context: the Dockerfile, with {{base}} standing for
// the pushed base image, and the other files.
func (e *buildEnv) project(t *testing.T, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["Dockerfile"] = strings.ReplaceAll(dockerfile, "{{base}}", e.base.ref)
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

// vulnPredicate is the part of the cosign vulnerability predicate the tests
// check.
type vulnPredicate struct {
	Scanner struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
		DB      struct {
			Version string `json:"version"`
			Age     string `json:"age"`
		} `json:"db"`
		Result struct {
			Verdict struct {
				Pass bool `json:"pass"`
			} `json:"verdict"`
			Findings []struct {
				ID      string `json:"id"`
				Package struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"package"`
			} `json:"findings"`
		} `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanStartedOn  string `json:"scanStartedOn"`
		ScanFinishedOn string `json:"scanFinishedOn"`
		Verdict        struct {
			Pass bool `json:"pass"`
		} `json:"verdict"`
	} `json:"metadata"`
}

// spdxPackages are the name@version of an SPDX predicate's packages.
func spdxPackages(t *testing.T, predicate json.RawMessage) []string {
	t.Helper()
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name    string `json:"name"`
			Version string `json:"versionInfo"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(predicate, &doc); err != nil {
		t.Fatalf("SPDX predicate: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" {
		t.Errorf("SPDX predicate version %q, want SPDX-2.3", doc.SPDXVersion)
	}
	var out []string
	for _, p := range doc.Packages {
		out = append(out, p.Name+"@"+p.Version)
	}
	return out
}
