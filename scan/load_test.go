package scan

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

// TestFetchRefusesRedirectToHTTP: an https VEX URL that redirects to plain
// http is refused, not followed.
func TestFetchRefusesRedirectToHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(notAffectedVEX("CVE-2021-44906", "pkg:npm/minimist@1.2.5")))
	}))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/vex.json", http.StatusFound))
	defer tls.Close()
	saved := vexClient.Transport
	vexClient.Transport = tls.Client().Transport
	defer func() { vexClient.Transport = saved }()

	if _, err := fetchVEX(t.Context(), tls.URL+"/vex.json"); err == nil || !strings.Contains(err.Error(), "must stay https://") {
		t.Errorf("fetch through a redirect to http: %v, want it refused", err)
	}
}

// TestLoadPolicyRefusesVEXSymlinkOutside: a VEX path inside the folder that
// is a symlink to a document outside it is refused, as a build refuses it;
// a symlink that stays inside is followed.
func TestLoadPolicyRefusesVEXSymlinkOutside(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "policy")
	for _, d := range []string{filepath.Join(dir, "vex"), filepath.Join(top, "elsewhere")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	doc := notAffectedVEX("CVE-2021-44906", "pkg:npm/minimist@1.2.5")
	for name, content := range map[string]string{
		filepath.Join(top, "elsewhere", "app.json"): doc,
		filepath.Join(dir, "vex", "real.json"):      doc,
		filepath.Join(dir, "secure-build.yaml"):     "vex: [vex/app.json]\n",
	} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "vex", "app.json")
	if err := os.Symlink("../../elsewhere/app.json", link); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPolicy(t.Context(), filepath.Join(dir, "secure-build.yaml"))
	if err == nil || !strings.Contains(err.Error(), "VEX document vex/app.json: resolves to "+filepath.Join(top, "elsewhere", "app.json")+", outside the policy file's folder") {
		t.Errorf("a VEX symlink out of the folder: %v, want it refused", err)
	}

	os.Remove(link)
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(t.Context(), filepath.Join(dir, "secure-build.yaml"))
	if err != nil || !suppressesMinimist(p) {
		t.Errorf("a VEX symlink inside the folder: %v", err)
	}
	if inside, err := policy.VEXFile(dir, "vex/app.json"); err != nil || inside != filepath.Join("vex", "real.json") {
		t.Errorf("VEXFile = %q, %v, want the real location vex/real.json", inside, err)
	}
}

func TestLoadPolicyReadsVEXBesideIt(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("secure-build.yaml", "vex: [vex/app.json]\n")
	write("vex/app.json", notAffectedVEX("CVE-2021-44906", "pkg:npm/minimist@1.2.5"))
	p, err := LoadPolicy(t.Context(), filepath.Join(dir, "secure-build.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !suppressesMinimist(p) {
		t.Error("the VEX document beside the file was not applied")
	}

	write("vex/app.json", `{"statements": []}`)
	if _, err := LoadPolicy(t.Context(), filepath.Join(dir, "secure-build.yaml")); err == nil || !strings.Contains(err.Error(), "vex/app.json: not OpenVEX") {
		t.Errorf("a document without the OpenVEX context: %v", err)
	}
	write("vex/app.json", `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:npm/a@1"}], "status": "not_affected"}]}`)
	if _, err := LoadPolicy(t.Context(), filepath.Join(dir, "secure-build.yaml")); err == nil || !strings.Contains(err.Error(), "statement 1") {
		t.Errorf("not_affected without a justification or impact statement: %v", err)
	}
	for _, outside := range []string{"../vex.json", "/etc/vex.json", "vex/../../vex.json"} {
		write("secure-build.yaml", "vex: ["+outside+"]\n")
		if _, err := LoadPolicy(t.Context(), filepath.Join(dir, "secure-build.yaml")); err == nil || !strings.Contains(err.Error(), "outside the policy file's folder") {
			t.Errorf("VEX document %s: %v", outside, err)
		}
	}
	write("secure-build.yaml", "vex: [vex/missing.json]\n")
	if _, err := LoadPolicy(t.Context(), filepath.Join(dir, "secure-build.yaml")); err == nil || !strings.Contains(err.Error(), "VEX document vex/missing.json") {
		t.Errorf("a missing VEX document: %v", err)
	}
}

// suppressesMinimist says whether p's VEX documents take minimist's
// CVE-2021-44906 out of the evaluation.
func suppressesMinimist(p *policy.Policy) bool {
	f := vuln.Finding{ID: "CVE-2021-44906", Severity: vuln.Critical, FixedVersion: "1.2.6",
		Package: vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5"}}
	v := p.Evaluate(policy.Input{Findings: []vuln.Finding{f}})
	return len(v.Suppressed) == 1 && v.Suppressed[0].By == "vex"
}

// notAffectedVEX is an OpenVEX document with one not_affected statement.
func notAffectedVEX(id, product string) string {
	return `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "t", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
  "statements": [{"vulnerability": {"name": "` + id + `"}, "products": [{"@id": "` + product + `"}], "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
}
