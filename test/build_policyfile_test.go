package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// singleStage ships node modules on {{base}}, with a Dockerfile line per
// instruction so that the tests can name the lines.
const singleStage = `FROM {{base}}
COPY node_modules /app/node_modules
`

// TestBuildPolicyFileUnpinnedBase: a base tagged latest breaks the pinning
// practice. With no policy file it is a warning on the FROM line and the
// build passes; with "pinned: {action: fail}" in the context's
// secure-build.yaml the build fails, naming the Dockerfile line, and nothing
// is pushed. An invalid file fails the build naming its line.
func TestBuildPolicyFileUnpinnedBase(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	// The shared base, tagged latest in the test's own namespace.
	latest := e.reg.Push(t, "base:latest", testutil.BusyboxImage(t, debianOSRelease)).Ref
	files := func(policy string) map[string]string {
		f := map[string]string{"node_modules/minimist/package.json": npmPackage("minimist", "1.2.6")}
		if policy != "" {
			f["secure-build.yaml"] = policy
		}
		return f
	}
	dockerfile := strings.ReplaceAll(singleStage, "{{base}}", latest)
	ref := e.reg.Ref("app:1")

	r := e.build(t, e.project(t, dockerfile, files("")), "-t", ref, "--push")
	if r.Code != 0 {
		t.Fatalf("no policy file, base tagged latest: exit %d, want 0 (the practices warn by default)\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "base-image.pinned: base image "+latest+" is tagged latest") {
		t.Errorf("no warning about the latest tag:\n%s", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "dockerfile.non-root-user") {
		t.Errorf("no warning about the root user (busybox has no USER):\n%s", r.Stderr)
	}

	strict := e.project(t, dockerfile, files("base-image:\n  pinned: {action: fail}\n"))
	ref2 := e.reg.Ref("app2:1")
	r = e.build(t, strict, "-t", ref2, "--push")
	if r.Code != 3 {
		t.Fatalf("pinned: fail and a latest base: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{"is tagged latest, which moves from release to release: pin it to a version tag (Dockerfile:1, base-image.pinned)", "nothing was exported"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("output does not say %q:\n%s", want, r.Stderr)
		}
	}
	if w := e.reg.Writes("app2"); len(w) != 0 {
		t.Errorf("the failed build wrote to the registry: %v", w)
	}
	// The same file passes on the base pinned to a version tag.
	if r := e.build(t, e.project(t, singleStage, files("base-image:\n  pinned: {action: fail}\n"))); r.Code != 0 {
		t.Errorf("pinned: fail and a base tagged 1: exit %d\n%s", r.Code, r.Stderr)
	}

	// --policy names a file outside the context; build args override it.
	outside := filepath.Join(t.TempDir(), "strict.yaml")
	if err := os.WriteFile(outside, []byte("base-image:\n  pinned: {action: fail, require: digest}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.build(t, e.project(t, singleStage, files("")), "--policy", outside)
	if r.Code != 3 || !strings.Contains(r.Stderr, "is pinned to a tag but not by digest") {
		t.Errorf("--policy with require: digest on a tag: exit %d\n%s", r.Code, r.Stderr)
	}

	// A .dockerignore that keeps only node_modules hides the file: the
	// defaults apply, and the build says why.
	hidden := files("base-image:\n  pinned: {action: fail}\n")
	hidden[".dockerignore"] = "*\n!node_modules\n"
	r = e.build(t, e.project(t, dockerfile, hidden))
	if r.Code != 0 || !strings.Contains(r.Stderr, ".dockerignore excludes secure-build.yaml") {
		t.Errorf("a policy file hidden by .dockerignore: exit %d, want 0 and a warning\n%s", r.Code, r.Stderr)
	}

	// License rules read the SBOM the scan step wrote.
	r = e.build(t, e.project(t, singleStage, files("licenses:\n  deny: [MIT]\n")))
	if r.Code != 3 || !strings.Contains(r.Stderr, "minimist 1.2.6 (npm): license MIT needs a denied license (MIT) (licenses)") {
		t.Errorf("licenses deny MIT on an MIT package: exit %d, want 3 naming it\n%s", r.Code, r.Stderr)
	}

	bad := e.project(t, dockerfile, files("vulnerabilities:\n  ignore:\n    - id: CVE-2021-44906\n      package: minimist\n"))
	r = e.build(t, bad)
	if r.Code != 1 || !strings.Contains(r.Stderr, "policy secure-build.yaml:3: vulnerabilities.ignore[0]: missing property 'reason'") {
		t.Errorf("an ignore entry without a reason: exit %d, want 1 naming the file's line\n%s", r.Code, r.Stderr)
	}
}

// TestBuildPolicyFileIgnoreExpiry: an ignore entry suppresses the fixable
// critical until its expiry date; one that expired yesterday no longer does,
// fails the build and says it expired.
func TestBuildPolicyFileIgnoreExpiry(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	ignore := func(expires time.Time) map[string]string {
		return map[string]string{
			"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
			"secure-build.yaml": "vulnerabilities:\n  ignore:\n    - id: GHSA-xvch-5gv4-984h\n      package: minimist\n" +
				"      reason: \"options parsing is not reachable from our code\"\n      expires: " + expires.Format(time.DateOnly) + "\n",
		}
	}
	today := time.Now().UTC()
	r := e.build(t, e.project(t, multiStage, ignore(today.AddDate(0, 0, 1))), "--report", filepath.Join(t.TempDir(), "r.json"))
	if r.Code != 0 {
		t.Fatalf("an ignore entry (by alias) valid until tomorrow: exit %d, want 0\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "suppressed by ignore secure-build.yaml:3: options parsing is not reachable") {
		t.Errorf("the suppression is not shown with its reason:\n%s", r.Stderr)
	}

	yesterday := today.AddDate(0, 0, -1).Format(time.DateOnly)
	r = e.build(t, e.project(t, multiStage, ignore(today.AddDate(0, 0, -1))))
	if r.Code != 3 {
		t.Fatalf("an ignore entry that expired yesterday: exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{"critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6", "expired on " + yesterday} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("output does not say %q:\n%s", want, r.Stderr)
		}
	}
}

// TestBuildPolicyFileVEX: an OpenVEX statement that the vulnerable code is
// not in the execute path lets the build pass; the pushed image carries the
// suppression in the scan result and an OpenVEX attestation.
func TestBuildPolicyFileVEX(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	doc := `{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/app-1",
  "author": "app team",
  "timestamp": "2026-11-01T00:00:00Z",
  "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2021-44906"},
    "products": [{"@id": "pkg:npm/minimist@1.2.5"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}`
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
		"secure-build.yaml":                  "vex: [vex/app.openvex.json]\n",
		"vex/app.openvex.json":               doc,
	})
	ref := e.reg.Ref("app:1")
	r := e.build(t, dir, "-t", ref, "--push")
	if r.Code != 0 {
		t.Fatalf("a not_affected VEX statement: exit %d, want 0\n%s", r.Code, r.Stderr)
	}
	read, err := attest.Read(t.Context(), ref, &v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	att := read.Platforms[0]
	if att.OpenVEX == nil {
		t.Fatalf("no OpenVEX attestation; have %v", attested.Keys(attested.ReadImage(t, ref).Attestations["linux/amd64"]))
	}
	// OpenVEX's own document format, read as a consumer of it would.
	var vexDoc struct {
		Statements []struct {
			Vulnerability struct{ Name string } `json:"vulnerability"`
			Products      []struct {
				ID string `json:"@id"`
			} `json:"products"`
			Status        string `json:"status"`
			Justification string `json:"justification"`
		} `json:"statements"`
	}
	if err := json.Unmarshal(att.OpenVEX, &vexDoc); err != nil {
		t.Fatal(err)
	}
	if len(vexDoc.Statements) != 1 || vexDoc.Statements[0].Vulnerability.Name != fixableCriticalID ||
		vexDoc.Statements[0].Status != "not_affected" || vexDoc.Statements[0].Justification != "vulnerable_code_not_in_execute_path" ||
		len(vexDoc.Statements[0].Products) != 1 || vexDoc.Statements[0].Products[0].ID != "pkg:npm/minimist@1.2.5" {
		t.Errorf("OpenVEX attestation: %s", att.OpenVEX)
	}
	if att.Scan == nil {
		t.Fatal("no scan result attestation")
	}
	v := att.Scan.Report.Verdict
	if !v.Pass || len(v.Suppressed) != 1 || v.Suppressed[0].ID != fixableCriticalID || v.Suppressed[0].By != "vex" || v.Suppressed[0].Source != "vex/app.openvex.json" {
		t.Errorf("the scan result does not record the suppression: %+v", v)
	}
}
