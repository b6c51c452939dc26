package test

import (
	"strings"
	"testing"
)

// TestBuildPolicyKnobs: the build that fails by the default policy with a
// fixable critical (TestPolicyFailsBeforePush) passes and pushes with a
// flag, then a build arg; a wrong value of the flag is an error naming it.
func TestBuildPolicyKnobs(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
	})
	ref := e.reg.Ref("app:1")
	if r := e.build(t, dir, "-t", ref, "--push"); r.Code != 3 {
		t.Fatalf("build with a fixable critical: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	if e.reg.HasTag(t, "app", "1") {
		t.Fatal("the failed build pushed app:1")
	}

	// The policy's knobs: a flag, then a build arg, let the same build pass.
	if r := e.build(t, dir, "-t", ref, "--push", "--fail-on", "none"); r.Code != 0 {
		t.Fatalf("--fail-on none: exit %d\n%s", r.Code, r.Stderr)
	}
	if !e.reg.HasTag(t, "app", "1") {
		t.Error("--fail-on none: app:1 was not pushed")
	}
	if r := e.build(t, dir, "--build-arg", "SECURE_BUILD_FAIL_ON=none"); r.Code != 0 || !strings.Contains(r.Stderr, "PASS (fail on: none)") {
		t.Errorf("SECURE_BUILD_FAIL_ON=none: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := e.build(t, dir, "--fail-on", "severe"); r.Code == 0 || !strings.Contains(r.Stderr, "--fail-on") {
		t.Errorf("--fail-on severe: exit %d, want an error naming the flag\n%s", r.Code, r.Stderr)
	}
}

// TestBuildPolicyUnfixedPassesByDefault: an unfixed critical passes the
// default policy (fixable only) and fails with --only-fixable=false.
func TestBuildPolicyUnfixedPassesByDefault(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/listed/package.json": npmPackage("listed", "2.0.1"),
	})
	r := e.build(t, dir)
	if r.Code != 0 {
		t.Fatalf("an unfixed critical failed the default policy: exit %d\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "critical: 0 fixable of 1") {
		t.Errorf("the verdict does not count the unfixed critical:\n%s", r.Stderr)
	}
	r = e.build(t, dir, "--only-fixable=false")
	if r.Code != 3 || !strings.Contains(r.Stderr, unfixedCriticalID+" in listed 2.0.1 -> no fix yet") {
		t.Errorf("--only-fixable=false: exit %d, want 3 naming %s\n%s", r.Code, unfixedCriticalID, r.Stderr)
	}
}
