package test

import (
	"strings"
	"testing"
)

// TestBuildPolicyFailsBeforePush: a final stage with a fixable critical
// fails the build by the default policy, with the finding and its fix in the
// error, and nothing reaches the registry, not even a layer.
func TestBuildPolicyFailsBeforePush(t *testing.T) {
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
	})
	ref := e.reg.host + "/app:1"
	r := e.build(t, dir, "-t", ref, "--push")
	if r.code != 1 {
		t.Fatalf("build with a fixable critical: exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"secure-build policy failed for linux/amd64",
		"critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6",
		"nothing was exported",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output does not say %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "pushing layers") || strings.Contains(r.stderr, "exporting to image") {
		t.Errorf("the exporter ran although the policy failed:\n%s", r.stderr)
	}
	if w := e.reg.writes("app"); len(w) != 0 {
		t.Errorf("the failed build wrote to the registry: %v", w)
	}
	if e.reg.hasTag(t, "app", "1") {
		t.Error("the failed build pushed app:1")
	}

	// The policy's knobs: a flag, then a build arg, let the same build pass.
	if r := e.build(t, dir, "-t", ref, "--push", "--fail-on", "none"); r.code != 0 {
		t.Fatalf("--fail-on none: exit %d\n%s", r.code, r.stderr)
	}
	if !e.reg.hasTag(t, "app", "1") {
		t.Error("--fail-on none: app:1 was not pushed")
	}
	if r := e.build(t, dir, "--build-arg", "SECURE_BUILD_FAIL_ON=none"); r.code != 0 || !strings.Contains(r.stderr, "PASS (fail on: none)") {
		t.Errorf("SECURE_BUILD_FAIL_ON=none: exit %d\n%s", r.code, r.stderr)
	}
	if r := e.build(t, dir, "--fail-on", "severe"); r.code == 0 || !strings.Contains(r.stderr, "--fail-on") {
		t.Errorf("--fail-on severe: exit %d, want an error naming the flag\n%s", r.code, r.stderr)
	}
}

// TestBuildPolicyUnfixedPassesByDefault: an unfixed critical passes the
// default policy (fixable only) and fails with --only-fixable=false.
func TestBuildPolicyUnfixedPassesByDefault(t *testing.T) {
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/listed/package.json": npmPackage("listed", "2.0.1"),
	})
	r := e.build(t, dir)
	if r.code != 0 {
		t.Fatalf("an unfixed critical failed the default policy: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "critical: 0 fixable of 1") {
		t.Errorf("the verdict does not count the unfixed critical:\n%s", r.stderr)
	}
	r = e.build(t, dir, "--only-fixable=false")
	if r.code != 1 || !strings.Contains(r.stderr, unfixedCriticalID+" in listed 2.0.1 -> no fix yet") {
		t.Errorf("--only-fixable=false: exit %d, want 1 naming %s\n%s", r.code, unfixedCriticalID, r.stderr)
	}
}
