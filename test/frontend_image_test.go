package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// goImage is the Go image the root Dockerfile pins; the harness stands in
// for it with a local one (named contexts match the FROM line as written).
const goImage = "golang:1.26@sha256:9edf71320ef8a791c4c33ec79f90496d641f306a91fb112d3d060d5c1cee4e20"

// sharedFrontend is the frontend image, built once from the repository's
// Dockerfile on the shared buildkitd and pushed to the shared registry as
// HOST/secure-build/frontend:test.
var sharedFrontend testutil.Shared[string]

func frontendImage(t *testing.T) string {
	t.Helper()
	bk, reg := buildKit(t), rootRegistry(t)
	return sharedFrontend.Get(t, func(t testing.TB) (string, func()) {
		// The Go image reads this machine's Go caches: the build compiles
		// what go test's docker-secure did not, and fetches the modules
		// this machine has not.
		start := time.Now()
		goLayout := testutil.WriteLayout(t, testutil.GoImage(t, testutil.ServeGoCaches(t), "../cmd/secure-build-frontend"))
		t.Logf("Go image made in %s", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		ref := reg.Ref("secure-build/frontend:test")
		out := bk.Build(t,
			"--frontend", "dockerfile.v0",
			"--local", "context=..", "--local", "dockerfile=..",
			"--oci-layout", "golang="+goLayout.Dir,
			"--opt", "context:"+goImage+"=oci-layout://golang@"+goLayout.Digest,
			"--opt", "build-arg:VERSION=test",
			"--output", "type=image,name="+ref+",push=true",
		)
		t.Logf("frontend image built and pushed in %s\n%s", time.Since(start).Round(time.Millisecond), out)
		return ref, nil
	})
}

// frontendEnv is a buildEnv plus the frontend image, and the test's
// database pushed to its namespace as an image by "docker secure db push".
type frontendEnv struct {
	*buildEnv
	frontend string // HOST/secure-build/frontend:test
	dbImage  string // HOST/NAMESPACE/secure-build/db:test
}

func newFrontendEnv(t *testing.T) *frontendEnv {
	t.Helper()
	e := &frontendEnv{buildEnv: newBuildEnv(t), frontend: frontendImage(t)}
	e.dbImage = e.reg.Ref("secure-build/db:test")
	r := runCmd(t, nil, binary, "db", "push", "--db", e.db, e.dbImage)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, e.reg.Ref("secure-build/db@sha256:")) {
		t.Fatalf("db push: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	return e
}

// buildctl runs a build through buildctl, as CI does without the plugin.
func (e *frontendEnv) buildctl(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runCmd(t, nil, e.bk.Buildctl, append([]string{"--addr", e.bk.Addr, "build", "--progress", "plain",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir}, args...)...)
}

// TestFrontendImage builds the frontend image from the repository's
// Dockerfile and uses it the ways CI does, with no plugin: BUILDKIT_SYNTAX,
// buildctl --frontend gateway.v0, and BuildKit's SBOM generator protocol
// ("# syntax=" is the frontend's way in the scenarios of build_matrix_test.go);
// the database comes from the image db push made.
func TestFrontendImage(t *testing.T) {
	t.Parallel()
	e := newFrontendEnv(t)
	good := map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")}
	dbArg := "build-arg:SECURE_BUILD_DB_IMAGE=" + e.dbImage

	t.Run("image", func(t *testing.T) {
		ref, err := name.ParseReference(e.frontend, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("read %s: %v", e.frontend, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Config.User != "65532:65532" || !slices.Equal(cfg.Config.Entrypoint, []string{"/bin/secure-build-frontend"}) {
			t.Errorf("user %q, entrypoint %v: want non-root 65532 and the frontend binary", cfg.Config.User, cfg.Config.Entrypoint)
		}
		if cfg.Config.Labels["moby.buildkit.frontend.network.none"] != "true" ||
			!strings.Contains(cfg.Config.Labels["moby.buildkit.frontend.caps"], "moby.buildkit.frontend.contexts") {
			t.Errorf("labels %v: want the frontend caps and network.none", cfg.Config.Labels)
		}
		if layers, err := img.Layers(); err != nil || len(layers) != 1 {
			t.Errorf("%d layers (%v): want the one layer of the static binary on scratch", len(layers), err)
		}
	})

	t.Run("BUILDKIT_SYNTAX", func(t *testing.T) {
		dir := e.project(t, multiStage, good)
		ref := e.reg.Ref("app:buildkit-syntax")
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", "build-arg:BUILDKIT_SYNTAX="+e.frontend,
			"--opt", "context:secure-build-db=docker-image://"+e.dbImage, "--output", "type=image,name="+ref+",push=true")
		if r.Code != 0 {
			t.Fatalf("buildctl: exit %d\n%s", r.Code, r.Stderr)
		}
		attested.Assert(t, ref, "linux/amd64", attested.Want{Package: "listed@2.0.1", Finding: unfixedCriticalID, ScannerVersion: "test"})
	})

	t.Run("gateway", func(t *testing.T) {
		dir := e.project(t, multiStage, good)
		ref := e.reg.Ref("app:gateway")
		r := e.buildctl(t, dir, "--frontend", "gateway.v0", "--opt", "source="+e.frontend, "--opt", dbArg,
			"--output", "type=image,name="+ref+",push=true")
		if r.Code != 0 {
			t.Fatalf("buildctl: exit %d\n%s", r.Code, r.Stderr)
		}
		attested.Assert(t, ref, "linux/amd64", attested.Want{Package: "listed@2.0.1", Finding: unfixedCriticalID, ScannerVersion: "test"})
	})

	t.Run("sbom-generator", func(t *testing.T) {
		dir := e.project(t, multiStage, good)
		ref := e.reg.Ref("app:generator")
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", "attest:sbom=generator="+e.frontend,
			"--output", "type=image,name="+ref+",push=true")
		if r.Code != 0 {
			t.Fatalf("buildctl: exit %d\n%s", r.Code, r.Stderr)
		}
		attested.Assert(t, ref, "linux/amd64", attested.Want{Package: "listed@2.0.1"})
		img := attested.ReadImage(t, ref)
		var doc struct {
			CreationInfo struct {
				Creators []string `json:"creators"`
			} `json:"creationInfo"`
		}
		if err := json.Unmarshal(img.Attestations["linux/amd64"][attest.SPDXPredicateType].Predicate, &doc); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(doc.CreationInfo.Creators, func(c string) bool { return strings.Contains(c, "secure-build") }) {
			t.Errorf("the SBOM's creators %v do not name secure-build", doc.CreationInfo.Creators)
		}
	})

	// CI keeps the team's policy apart from the project: the named context
	// secure-build-policy, here one whose ignore entry lets the fixable
	// critical pass, with the project's own secure-build.yaml (which would
	// fail it) not read.
	t.Run("policy-from-named-context", func(t *testing.T) {
		dir := e.project(t, "# syntax="+e.frontend+"\n"+multiStage, map[string]string{
			"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
			"secure-build.yaml":                  "vulnerabilities:\n  fail-on: low\n",
			// A final stage no other test builds: its scan step is fresh.
			"node_modules/.fresh": fmt.Sprint(time.Now().UnixNano()),
		})
		policyDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(policyDir, "team.yaml"), []byte("vulnerabilities:\n  ignore:\n    - id: "+fixableCriticalID+"\n      reason: accepted by the security team\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// The scan step is fresh here: no other subtest builds this
		// project. The findings and their suppressions are warnings of that
		// step, sent after the step completed; they reach buildctl all the
		// same (they once did only when the step was cached).
		ref := e.reg.Ref("app:team-policy")
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", dbArg,
			"--local", "teampolicy="+policyDir, "--opt", "context:secure-build-policy=local:teampolicy",
			"--opt", "build-arg:SECURE_BUILD_POLICY=team.yaml",
			"--output", "type=image,name="+ref+",push=true")
		if r.Code != 0 || !strings.Contains(r.Stderr, "suppressed by ignore team.yaml:3: accepted by the security team") {
			t.Fatalf("buildctl with the team's policy context: exit %d\n%s", r.Code, r.Stderr)
		}
		if !stepRanFresh(r.Stderr) {
			t.Errorf("the scan step did not run fresh, so this build does not show a fresh step's warnings\n%s", r.Stderr)
		}
		if !e.reg.HasTag(t, "app", "team-policy") {
			t.Error("the passing build was not pushed")
		}
		// Without the team's context, the project's own policy fails the
		// build (its scan step is cached by now).
		if r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", dbArg); r.Code == 0 {
			t.Fatalf("buildctl without the team's policy context passed the project's fail-on: low\n%s", r.Stderr)
		}
	})

	t.Run("no-database", func(t *testing.T) {
		dir := e.project(t, "# syntax="+e.frontend+"\n"+multiStage, good)
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--output", "type=image,name="+e.reg.Ref("nodb:1")+",push=true")
		if r.Code == 0 || !strings.Contains(r.Stderr, "SECURE_BUILD_DB_IMAGE") {
			t.Errorf("a CI build without a database: exit %d, want a failure saying how to give one\n%s", r.Code, r.Stderr)
		}
	})
}

// stepRanFresh says whether buildctl's plain progress shows the scan step
// run (DONE), not CACHED.
func stepRanFresh(progress string) bool {
	for _, line := range strings.Split(progress, "\n") {
		n, name, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(n, "#") || !strings.HasSuffix(name, "] scan the final stage") {
			continue
		}
		return strings.Contains(progress, "\n"+n+" DONE ") && !strings.Contains(progress, "\n"+n+" CACHED")
	}
	return false
}
