package policy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseRefusesPlainHTTPVEX: the schema says https; a VEX URL of any
// other scheme is a policy error naming the file, the line and the URL.
func TestParseRefusesPlainHTTPVEX(t *testing.T) {
	for _, url := range []string{"http://example.com/vex.json", "HTTP://example.com/vex.json", "ftp://example.com/vex.json"} {
		doc := "vex:\n  - vex/app.json\n  - " + url + "\n"
		_, err := Parse("secure-build.yaml", []byte(doc))
		var fes FileErrors
		if !errors.As(err, &fes) || len(fes) != 1 {
			t.Errorf("vex %s: %v, want one policy error", url, err)
			continue
		}
		if fe := fes[0]; fe.Line != 3 || !strings.Contains(fe.Msg, url) || !strings.Contains(fe.Msg, "https://") {
			t.Errorf("vex %s: %v, want an error on line 3 naming the URL and https", url, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "policy secure-build.yaml:3: vex[1]: ") {
			t.Errorf("vex %s: %q does not name the file, the line and the entry", url, err)
		}
	}
	if _, err := Parse("secure-build.yaml", []byte("vex: [\"https://example.com/vex.json\"]\n")); err != nil {
		t.Errorf("an https VEX URL: %v", err)
	}
}

// TestFetchRefusesRedirectToHTTP: an https VEX URL that redirects to plain
// http is refused, not followed.
func TestFetchRefusesRedirectToHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(vexDoc("CVE-2021-44906", "pkg:npm/minimist@1.2.5", "not_affected")))
	}))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/vex.json", http.StatusFound))
	defer tls.Close()
	saved := vexClient.Transport
	vexClient.Transport = tls.Client().Transport
	defer func() { vexClient.Transport = saved }()

	if _, err := fetch(t.Context(), tls.URL+"/vex.json"); err == nil || !strings.Contains(err.Error(), "must stay https://") {
		t.Errorf("fetch through a redirect to http: %v, want it refused", err)
	}
}

// TestLoadFileRefusesVEXSymlinkOutside: a VEX path inside the folder that
// is a symlink to a document outside it is refused, as a build refuses it;
// a symlink that stays inside is followed.
func TestLoadFileRefusesVEXSymlinkOutside(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "policy")
	for _, d := range []string{filepath.Join(dir, "vex"), filepath.Join(top, "elsewhere")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	doc := vexDoc("CVE-2021-44906", "pkg:npm/minimist@1.2.5", "not_affected")
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
	_, err := LoadFile(t.Context(), filepath.Join(dir, "secure-build.yaml"))
	if err == nil || !strings.Contains(err.Error(), "VEX document vex/app.json: resolves to "+filepath.Join(top, "elsewhere", "app.json")+", outside the policy file's folder") {
		t.Errorf("a VEX symlink out of the folder: %v, want it refused", err)
	}

	os.Remove(link)
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	p, err := LoadFile(t.Context(), filepath.Join(dir, "secure-build.yaml"))
	if err != nil || len(p.vex) != 1 {
		t.Errorf("a VEX symlink inside the folder: %v", err)
	}
	if inside, err := VEXFile(dir, "vex/app.json"); err != nil || inside != filepath.Join("vex", "real.json") {
		t.Errorf("VEXFile = %q, %v, want the real location vex/real.json", inside, err)
	}
}

// TestReadFileBounded: a policy file larger than MaxFileSize is refused
// without reading it whole.
func TestReadFileBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secure-build.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadFile of %d bytes: %v", MaxFileSize+1, err)
	}
}
