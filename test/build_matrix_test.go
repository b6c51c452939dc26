package test

import (
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// invocation is one way of running a secure-build build. The scenarios of
// this file are written once and run over every way, as BuildKit's
// integration tests run theirs over a matrix of workers.
type invocation struct {
	*buildEnv
	// syntax is the line the way puts before a scenario's Dockerfile.
	syntax string
	// push builds the project in dir and pushes the image as ref.
	push func(t *testing.T, dir, ref string) result
	// policyExit is the status a policy failure exits with; -1: any but 0
	// (buildctl's).
	policyExit int
	// failure are more things a policy failure says.
	failure []string
	// nothingKept checks, after a failed build, that the builder kept no
	// image as ref either.
	nothingKept func(t *testing.T, ref string)
	// attested is what AssertAttested expects besides the scenario's
	// package and finding.
	attested attested.Want
}

// invocations are the ways: the plugin on BUILDKIT_HOST (the shared
// buildkitd), "docker secure build" on Docker Engine's BuildKit, and the
// gateway frontend image through buildctl.
var invocations = []struct {
	name string
	make func(t *testing.T) *invocation
}{
	{"plugin-buildkit", func(t *testing.T) *invocation {
		e := newBuildEnv(t)
		return &invocation{
			buildEnv: e,
			push: func(t *testing.T, dir, ref string) result {
				return e.build(t, dir, "-t", ref, "--push")
			},
			policyExit: 3,
			failure:    []string{"secure-build policy failed for linux/amd64", "nothing was exported"},
			attested:   attested.Want{Provenance: true},
		}
	}},
	{"plugin-docker-engine", func(t *testing.T) *invocation {
		d := newDockerBuildEnv(t)
		return &invocation{
			buildEnv: d.buildEnv,
			push: func(t *testing.T, dir, ref string) result {
				return d.secureBuild(t, dir, "-t", ref, "--push")
			},
			policyExit: 3,
			nothingKept: func(t *testing.T, ref string) {
				if r := d.engine.Docker(t, d.env, "image", "inspect", ref); r.Code == 0 {
					t.Errorf("the image of a failed policy was kept in the engine as %s", ref)
				}
			},
		}
	}},
	{"frontend-image", func(t *testing.T) *invocation {
		e := newFrontendEnv(t)
		return &invocation{
			buildEnv: e.buildEnv,
			syntax:   "# syntax=" + e.frontend + "\n",
			push: func(t *testing.T, dir, ref string) result {
				return e.buildctl(t, dir, "--frontend", "dockerfile.v0", "--opt", "build-arg:SECURE_BUILD_DB_IMAGE="+e.dbImage,
					"--output", "type=image,name="+ref+",push=true")
			},
			policyExit: -1,
			attested:   attested.Want{ScannerVersion: "test"},
		}
	}},
}

// forEachInvocation runs scenario, in parallel, once for each way.
func forEachInvocation(t *testing.T, scenario func(t *testing.T, inv *invocation)) {
	for _, way := range invocations {
		t.Run(way.name, func(t *testing.T) {
			t.Parallel()
			scenario(t, way.make(t))
		})
	}
}

// project is buildEnv.project with the way's syntax line.
func (inv *invocation) project(t *testing.T, dockerfile string, files map[string]string) string {
	t.Helper()
	return inv.buildEnv.project(t, inv.syntax+dockerfile, files)
}

// TestPolicyFailsBeforePush: a final stage with a fixable critical fails
// the build by the default policy, with the finding and its fix in the
// error, and nothing reaches the registry, not even a layer.
func TestPolicyFailsBeforePush(t *testing.T) {
	t.Parallel()
	forEachInvocation(t, func(t *testing.T, inv *invocation) {
		dir := inv.project(t, multiStage, map[string]string{
			"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
		})
		ref := inv.reg.Ref("app:1")
		r := inv.push(t, dir, ref)
		if inv.policyExit >= 0 && r.Code != inv.policyExit || r.Code == 0 {
			t.Fatalf("build with a fixable critical: exit %d, want a policy failure (%d)\n%s", r.Code, inv.policyExit, r.Stderr)
		}
		for _, want := range append([]string{"critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6"}, inv.failure...) {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("output does not say %q:\n%s", want, r.Stderr)
			}
		}
		if strings.Contains(r.Stderr, "pushing layers") || strings.Contains(r.Stderr, "exporting to image") {
			t.Errorf("the exporter ran although the policy failed:\n%s", r.Stderr)
		}
		if w := inv.reg.Writes("app"); len(w) != 0 {
			t.Errorf("the failed build wrote to the registry: %v", w)
		}
		if inv.reg.HasTag(t, "app", "1") {
			t.Error("the failed build pushed app:1")
		}
		if inv.nothingKept != nil {
			inv.nothingKept(t, ref)
		}
	})
}

// TestPushedImageIsAttested: a passing multi-stage build pushes an image
// index whose attestation manifest holds secure-build's SBOM and scan
// result; the final stage holds an unfixed critical, which the default
// policy lets pass and the scan result still lists.
func TestPushedImageIsAttested(t *testing.T) {
	t.Parallel()
	forEachInvocation(t, func(t *testing.T, inv *invocation) {
		dir := inv.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
		ref := inv.reg.Ref("app:1")
		if r := inv.push(t, dir, ref); r.Code != 0 {
			t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
		}
		want := inv.attested
		want.Package, want.Finding = "listed@2.0.1", unfixedCriticalID
		attested.Assert(t, ref, "linux/amd64", want)
	})
}
