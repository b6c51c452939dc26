package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// goImage is the Go image the root Dockerfile pins; the harness stands in
// for it with a local one (named contexts match the FROM line as written).
const goImage = "golang:1.26@sha256:9edf71320ef8a791c4c33ec79f90496d641f306a91fb112d3d060d5c1cee4e20"

// frontendEnv is a buildEnv plus the frontend image, built from the
// repository's Dockerfile and pushed to the loopback registry, and the
// database pushed there as an image by "docker secure db push".
type frontendEnv struct {
	*buildEnv
	frontend string // HOST/secure-build/frontend:test
	dbImage  string // HOST/secure-build/db:test
}

func newFrontendEnv(t *testing.T) *frontendEnv {
	t.Helper()
	e := &frontendEnv{buildEnv: newBuildEnv(t)}
	goLayout := e.bk.goBase(t)
	e.frontend = e.reg.host + "/secure-build/frontend:test"
	metadata := filepath.Join(t.TempDir(), "metadata.json")
	e.bk.build(t,
		"--frontend", "dockerfile.v0",
		"--local", "context=..", "--local", "dockerfile=..",
		"--oci-layout", "golang="+goLayout.dir,
		"--opt", "context:"+goImage+"=oci-layout://golang@"+goLayout.digest,
		"--opt", "build-arg:VERSION=test",
		"--output", "type=image,name="+e.frontend+",push=true",
		"--metadata-file", metadata,
	)
	e.dbImage = e.reg.host + "/secure-build/db:test"
	r := runCmd(t, nil, binary, "db", "push", "--db", e.db, e.dbImage)
	if r.code != 0 || !strings.HasPrefix(r.stdout, e.reg.host+"/secure-build/db@sha256:") {
		t.Fatalf("db push: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return e
}

// goBase makes a Go image from this machine's Go (GOROOT) on the
// debootstrap root, with the CA certificates that reach the module proxy,
// as an OCI layout.
func (bk *buildkit) goBase(t *testing.T) ociBase {
	t.Helper()
	root := testRootfs(t)
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	const certs = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(certs); err != nil {
		requireE2E(t, "no %s (apt-get install ca-certificates): %v", certs, err)
	}
	dir, err := os.MkdirTemp(bk.dir, "go")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := `FROM scratch
COPY / /
COPY --from=goroot / /usr/local/go
COPY --from=certs ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOPATH=/go
WORKDIR /go
`
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile.dockerignore"), []byte(debianBaseDockerignore), 0o644); err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(dir, "oci")
	bk.build(t,
		"--frontend", "dockerfile.v0",
		"--local", "context="+root, "--local", "dockerfile="+dir,
		"--local", "goroot="+goroot, "--opt", "context:goroot=local:goroot",
		"--local", "certs="+filepath.Dir(certs), "--opt", "context:certs=local:certs",
		"--output", "type=oci,dest="+layout+",tar=false",
	)
	return ociBase{dir: layout, digest: ociManifestDigest(t, layout)}
}

// buildctl runs a build through buildctl, as CI does without the plugin.
func (e *frontendEnv) buildctl(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runCmd(t, nil, e.bk.buildctl, append([]string{"--addr", e.bk.addr, "build", "--progress", "plain",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir}, args...)...)
}

// checkAttested reads ref back from the registry and checks its SPDX and
// scan result attestations for linux/amd64.
func checkAttested(t *testing.T, ref string, wantPackage, wantFinding string) {
	t.Helper()
	img := readImage(t, ref)
	atts := img.attestations["linux/amd64"]
	sbom, ok := atts["https://spdx.dev/Document"]
	if !ok {
		t.Fatalf("%s: no SPDX attestation; predicate types %v", ref, keys(atts))
	}
	if pkgs := spdxPackages(t, sbom.Predicate); !slices.Contains(pkgs, wantPackage) {
		t.Errorf("%s: SBOM packages %v, want %s", ref, pkgs, wantPackage)
	}
	if wantFinding == "" {
		return
	}
	scan, ok := atts["https://cosign.sigstore.dev/attestation/vuln/v1"]
	if !ok {
		t.Fatalf("%s: no scan result attestation; predicate types %v", ref, keys(atts))
	}
	var p vulnPredicate
	if err := json.Unmarshal(scan.Predicate, &p); err != nil {
		t.Fatal(err)
	}
	if !p.Metadata.Verdict.Pass || len(p.Scanner.Result.Findings) != 1 || p.Scanner.Result.Findings[0].ID != wantFinding {
		t.Errorf("%s: verdict %+v, findings %+v; want a pass listing %s", ref, p.Metadata.Verdict, p.Scanner.Result.Findings, wantFinding)
	}
	if p.Scanner.Version != "test" {
		t.Errorf("%s: scanner version %q, want the frontend image's (test)", ref, p.Scanner.Version)
	}
}

// TestFrontendImage builds the frontend image from the repository's
// Dockerfile and uses it the ways CI does, with no plugin: "# syntax=",
// BUILDKIT_SYNTAX, buildctl --frontend gateway.v0, and BuildKit's SBOM
// generator protocol; the database comes from the image db push made.
func TestFrontendImage(t *testing.T) {
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

	t.Run("syntax", func(t *testing.T) {
		dir := e.project(t, "# syntax="+e.frontend+"\n"+multiStage, good)
		ref := e.reg.host + "/app:syntax"
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", dbArg, "--output", "type=image,name="+ref+",push=true")
		if r.code != 0 {
			t.Fatalf("buildctl: exit %d\n%s", r.code, r.stderr)
		}
		checkAttested(t, ref, "listed@2.0.1", unfixedCriticalID)
	})

	t.Run("BUILDKIT_SYNTAX", func(t *testing.T) {
		dir := e.project(t, multiStage, good)
		ref := e.reg.host + "/app:buildkit-syntax"
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", "build-arg:BUILDKIT_SYNTAX="+e.frontend,
			"--opt", "context:secure-build-db=docker-image://"+e.dbImage, "--output", "type=image,name="+ref+",push=true")
		if r.code != 0 {
			t.Fatalf("buildctl: exit %d\n%s", r.code, r.stderr)
		}
		checkAttested(t, ref, "listed@2.0.1", unfixedCriticalID)
	})

	t.Run("gateway", func(t *testing.T) {
		dir := e.project(t, multiStage, good)
		ref := e.reg.host + "/app:gateway"
		r := e.buildctl(t, dir, "--frontend", "gateway.v0", "--opt", "source="+e.frontend, "--opt", dbArg,
			"--output", "type=image,name="+ref+",push=true")
		if r.code != 0 {
			t.Fatalf("buildctl: exit %d\n%s", r.code, r.stderr)
		}
		checkAttested(t, ref, "listed@2.0.1", unfixedCriticalID)
	})

	t.Run("sbom-generator", func(t *testing.T) {
		dir := e.project(t, multiStage, good)
		ref := e.reg.host + "/app:generator"
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", "attest:sbom=generator="+e.frontend,
			"--output", "type=image,name="+ref+",push=true")
		if r.code != 0 {
			t.Fatalf("buildctl: exit %d\n%s", r.code, r.stderr)
		}
		checkAttested(t, ref, "listed@2.0.1", "")
		img := readImage(t, ref)
		var doc struct {
			CreationInfo struct {
				Creators []string `json:"creators"`
			} `json:"creationInfo"`
		}
		if err := json.Unmarshal(img.attestations["linux/amd64"]["https://spdx.dev/Document"].Predicate, &doc); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(doc.CreationInfo.Creators, func(c string) bool { return strings.Contains(c, "secure-build") }) {
			t.Errorf("the SBOM's creators %v do not name secure-build", doc.CreationInfo.Creators)
		}
	})

	t.Run("policy-fails-before-push", func(t *testing.T) {
		dir := e.project(t, "# syntax="+e.frontend+"\n"+multiStage, map[string]string{
			"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
		})
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", dbArg,
			"--output", "type=image,name="+e.reg.host+"/failing:1,push=true")
		if r.code == 0 || !strings.Contains(r.stderr, fixableCriticalID+" in minimist 1.2.5 -> 1.2.6") {
			t.Errorf("buildctl with a fixable critical: exit %d, want a failure naming it\n%s", r.code, r.stderr)
		}
		if w := e.reg.writes("failing"); len(w) != 0 {
			t.Errorf("the failed CI build wrote to the registry: %v", w)
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
		})
		policyDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(policyDir, "team.yaml"), []byte("vulnerabilities:\n  ignore:\n    - id: "+fixableCriticalID+"\n      reason: accepted by the security team\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ref := e.reg.host + "/app:team-policy"
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", dbArg,
			"--local", "teampolicy="+policyDir, "--opt", "context:secure-build-policy=local:teampolicy",
			"--opt", "build-arg:SECURE_BUILD_POLICY=team.yaml",
			"--output", "type=image,name="+ref+",push=true")
		if r.code != 0 || !strings.Contains(r.stderr, "suppressed by ignore team.yaml:3: accepted by the security team") {
			t.Fatalf("buildctl with the team's policy context: exit %d\n%s", r.code, r.stderr)
		}
		if !e.reg.hasTag(t, "app", "team-policy") {
			t.Error("the passing build was not pushed")
		}
	})

	t.Run("no-database", func(t *testing.T) {
		dir := e.project(t, "# syntax="+e.frontend+"\n"+multiStage, good)
		r := e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--output", "type=image,name="+e.reg.host+"/nodb:1,push=true")
		if r.code == 0 || !strings.Contains(r.stderr, "SECURE_BUILD_DB_IMAGE") {
			t.Errorf("a CI build without a database: exit %d, want a failure saying how to give one\n%s", r.code, r.stderr)
		}
	})
}
