package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/secure-build/secure-build/report"
)

// TestOriginReports: a build's reports place each finding where it came
// from: SARIF on the Dockerfile lines (a base finding on the FROM line that
// names the base), the JSON report's origins and origin counts, and the
// verdict's origin line.
func TestOriginReports(t *testing.T) {
	t.Parallel()
	e, dir := originEnv(t)
	out := t.TempDir()
	sarifPath := filepath.Join(out, "scan.sarif")
	r := e.build(t, dir, "--fail-on", "none", "--report", sarifPath, "--report-format", "sarif")
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	dockerfile, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(dockerfile), "\n")
	doc, err := os.ReadFile(sarifPath)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sarif.FromBytes(doc)
	if err != nil {
		t.Fatal(err)
	}
	type place struct {
		uri, base  string
		start, end int
	}
	got := map[string]place{}
	for _, res := range rep.Runs[0].Results {
		if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation == nil {
			continue
		}
		pl := res.Locations[0].PhysicalLocation
		p := place{uri: *pl.ArtifactLocation.URI, start: *pl.Region.StartLine}
		if pl.ArtifactLocation.URIBaseID != nil {
			p.base = *pl.ArtifactLocation.URIBaseID
		}
		if pl.Region.EndLine != nil {
			p.end = *pl.Region.EndLine
		}
		got[*res.RuleID+" "+strings.Fields(*res.Message.Text)[0]] = p
	}
	for key, want := range map[string]place{
		"DEBIAN-CVE-2099-0001 tildepkg":  {"Dockerfile", "%SRCROOT%", 5, 6},
		"GO-2099-0100 golang.org/x/text": {"Dockerfile", "%SRCROOT%", 9, 9},
		"DEBIAN-CVE-2099-0001 epochpkg":  {"Dockerfile", "%SRCROOT%", 10, 10},
	} {
		if got[key] != want {
			t.Errorf("SARIF %s at %+v, want %+v", key, got[key], want)
		}
	}
	base := got["DEBIAN-CVE-2023-4911 libc6"]
	if base.uri != "Dockerfile" || base.start < 1 || base.start > len(lines) || base.end != base.start ||
		!strings.HasPrefix(lines[base.start-1], "FROM "+e.base.Ref) {
		t.Errorf("SARIF base finding at %+v, want the FROM line naming %s:\n%s", base, e.base.Ref, dockerfile)
	}

	// A finding's warning shows the lines that brought it in.
	if !strings.Contains(r.Stderr, "\nDockerfile:5\n--------------------\n") || !strings.Contains(r.Stderr, "   5 | >>> RUN printf 'Package: tildepkg") ||
		!strings.Contains(r.Stderr, "   6 | >>>     printf 'Version: 1.0~rc1-1") {
		t.Errorf("the warning of a finding a RUN added does not show its lines:\n%s", r.Stderr)
	}

	// The verdict says where the findings came from.
	wantLine := "added by Dockerfile:5-6, :9 and :10"
	if !strings.Contains(r.Stderr, "inherited from "+e.base.Ref+"@sha256:") || !strings.Contains(r.Stderr, wantLine) {
		t.Errorf("the verdict does not say where the findings came from (%q):\n%s", wantLine, r.Stderr)
	}

	// The JSON report (the scan step is cached: the same origins).
	jsonPath := filepath.Join(out, "scan.json")
	if r = e.build(t, dir, "--fail-on", "none", "--report", jsonPath); r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	doc, err = os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var jr report.JSONReport
	if err := json.Unmarshal(doc, &jr); err != nil {
		t.Fatal(err)
	}
	if jr.SchemaVersion != report.SchemaVersion || jr.Summary.Origins.Inherited == 0 || jr.Summary.Origins.Added != 3 ||
		!strings.Contains(jr.Summary.Origins.Text, wantLine) {
		t.Errorf("JSON report %s: origin counts %+v", jr.SchemaVersion, jr.Summary.Origins)
	}
	for _, f := range jr.Findings {
		if f.Package.Name == "golang.org/x/text" && (len(f.Origins) != 1 || f.Origins[0].Kind != "instruction" || f.Origins[0].StartLine != 9 || f.Origins[0].CopiedFrom != "build") {
			t.Errorf("JSON origins of %s: %+v", f.Package.Name, f.Origins)
		}
	}
}

// TestOriginScope: scope added fails a build on what its Dockerfile added,
// not on what its base brings, which scope all fails on; by flag and by
// build arg.
func TestOriginScope(t *testing.T) {
	t.Parallel()
	e, dir := originEnv(t)
	strict := []string{"--fail-on", "unknown", "--include-unfixable"}

	r := e.build(t, dir, append(strict, "--scope", "added")...)
	if failed := after(r.Stderr, "policy failed"); r.Code != 3 || !strings.Contains(failed, "tildepkg") || strings.Contains(failed, "libc6") {
		t.Errorf("scope added on added findings: exit %d, want 3 failing on tildepkg, not on libc6:\n%s", r.Code, r.Stderr)
	}

	// Only the base's findings.
	baseOnly := e.project(t, "FROM {{base}}\nENV APP=1\n", map[string]string{})
	if r = e.build(t, baseOnly, strict...); r.Code != 3 || !strings.Contains(after(r.Stderr, "policy failed"), "libc6") {
		t.Errorf("scope all on inherited findings: exit %d, want 3 failing on libc6:\n%s", r.Code, r.Stderr)
	}
	r = e.build(t, baseOnly, append(strict, "--build-arg", "SECURE_BUILD_SCOPE=added")...)
	if r.Code != 0 || !strings.Contains(r.Stderr, "PASS (fail on: any severity, unknown included, scope added: inherited findings do not gate)") ||
		!strings.Contains(r.Stderr, "inherited from "+e.base.Ref) {
		t.Errorf("scope added (build arg) on inherited findings: exit %d, want 0 saying the scope:\n%s", r.Code, r.Stderr)
	}
}

// after is what s says after the first sep, "" without one.
func after(s, sep string) string {
	_, rest, _ := strings.Cut(s, sep)
	return rest
}

// TestOriginAttested: the origins travel with the pushed image: inspect
// shows them from the scan attestation, and verify gives today's findings
// the build's origins, so scope added gates on what the Dockerfile added.
func TestOriginAttested(t *testing.T) {
	t.Parallel()
	e, dir := originEnv(t)
	ref := e.reg.Ref("app:attested")
	if r := e.build(t, dir, "--fail-on", "none", "-t", ref, "--push"); r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	env := []string{"DOCKER_CONFIG=" + t.TempDir()}
	r := runCmd(t, env, binary, "inspect", ref)
	if r.Code != 0 || !strings.Contains(r.Stdout, "ORIGIN") || !strings.Contains(r.Stdout, "Dockerfile:9 COPY --from=build /out/app /usr/local/bin/app") ||
		!strings.Contains(r.Stdout, "base "+e.base.Ref) {
		t.Errorf("inspect: exit %d, want the ORIGIN column\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCmd(t, env, binary, "verify", "--db", e.db, "--fail-on", "unknown", "--include-unfixable", "--scope", "added", ref)
	failed := after(r.Stderr, "policy failed")
	if r.Code != 3 || !strings.Contains(r.Stdout, "Dockerfile:5-6 RUN printf") || !strings.Contains(r.Stdout, "added by Dockerfile:5-6, :9 and :10") ||
		!strings.Contains(failed, "tildepkg") || strings.Contains(failed, "libc6") {
		t.Errorf("verify --scope added: exit %d, want 3 on the added findings only\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}
