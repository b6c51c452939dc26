package plugin

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

func TestBuildBase(t *testing.T) {
	withOrigins := func(id string, origins ...origin.Origin) vuln.Finding {
		return vuln.Finding{ID: id, Package: vuln.Package{Name: id, Origins: origins}}
	}
	// Not attributed: nothing known, the base is scanned whole.
	if d, f := buildBase([]vuln.Finding{{ID: "CVE-1"}}); d != "" || f != nil {
		t.Errorf("unattributed: %q, %v; want nothing", d, f)
	}
	// Attributed, none of the base's: an empty list, not nil.
	d, f := buildBase([]vuln.Finding{withOrigins("CVE-1", origin.Origin{Kind: origin.Instruction, StartLine: 3})})
	if d != "" || f == nil || len(f) != 0 {
		t.Errorf("attributed to a RUN: %q, %v; want no digest and an empty list", d, f)
	}
	d, f = buildBase([]vuln.Finding{
		withOrigins("CVE-1", origin.Origin{Kind: origin.Base, Image: "debian:12", Digest: "sha256:abc"}),
		withOrigins("CVE-2", origin.Origin{Kind: origin.Instruction, StartLine: 3}),
	})
	if d != "sha256:abc" || len(f) != 1 || f[0].ID != "CVE-1" {
		t.Errorf("attributed: %q, %v; want sha256:abc and CVE-1", d, f)
	}
}

func TestBuildAdviceInputs(t *testing.T) {
	dir := t.TempDir()
	if got := buildPolicy(buildOptions{contextPath: dir}).BaseImage.Refresh; got != policy.Warn {
		t.Errorf("no policy file: refresh %q, want warn", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "secure-build.yaml"), []byte("base-image:\n  refresh: off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a := newBaseAdvisor(t.Context(), buildOptions{contextPath: dir}); a != nil {
		t.Errorf("refresh: off still advises")
	}
	if err := os.WriteFile(filepath.Join(dir, "secure-build.yaml"), []byte("base-image:\n  refresh: fail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a := newBaseAdvisor(t.Context(), buildOptions{contextPath: dir}); a != nil {
		t.Errorf("no Dockerfile, still an advisor")
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM debian:12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if a := newBaseAdvisor(t.Context(), buildOptions{contextPath: dir}); a == nil || a.pol.BaseImage.Refresh != policy.Fail || a.name != "Dockerfile" {
		t.Errorf("advisor of a context with a Dockerfile and a policy: %+v", a)
	}
	if a := newBaseAdvisor(t.Context(), buildOptions{contextPath: dir, file: "-"}); a != nil {
		t.Errorf("a Dockerfile from stdin is not read again")
	}
}

// TestBaseAdvicePrefetch: the advice asked while the build runs leaves the
// advice made once the scan is in nothing to ask the registry: its line,
// the refresh of the pinned base, comes from the session.
func TestBaseAdvicePrefetch(t *testing.T) {
	var requests testutil.RequestCount
	host := testutil.MemoryRegistry(t, requests.Wrap)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	push := func(tag, content string) string {
		return testutil.PushFiles(t, host+"/app:"+tag, map[string]string{"etc/os-release": "ID=debian\nVERSION_ID=12\n", "v": content})
	}
	old := push("1.0", "1.0")
	push("1.1", "1.1")
	push("1.0", "1.0 again")

	dbDir := t.TempDir()
	if _, err := vuln.Import(t.Context(), dbDir, []vuln.Source{{Path: "../vuln/testdata/osv/Debian"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+host+"/app:1.0@"+old+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newBaseAdvisor(t.Context(), buildOptions{contextPath: dir, db: dbFlags{dir: dbDir}})
	if a == nil {
		t.Fatal("no advisor for a registry base")
	}
	defer a.close()
	platform := ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
	a.prefetch(platform)
	a.prefetch(platform) // once a platform
	a.prefetching.Wait()

	requests.Reset()
	scan := frontend.PlatformScan{Platform: platforms.Format(platform), Report: &report.Scan{Verdict: policy.Verdict{Pass: true}}}
	a.advise(scan)
	if n := requests.Count(); n != 0 {
		t.Errorf("the advice after the prefetch sent the registry %d requests, want none", n)
	}
	if line := a.lines[scan.Platform]; !strings.Contains(line, "refresh available") {
		t.Errorf("advice line %q, want the refresh", line)
	}
}

// TestBaseAdviceOfNoRegistryBase: a base that is no registry image (scratch,
// a build context) has no advice, early or late, and asks nothing.
func TestBaseAdviceOfNoRegistryBase(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, dockerfile := range []string{"FROM scratch\n", "FROM base\n"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		a := newBaseAdvisor(t.Context(), buildOptions{contextPath: dir, buildContexts: []string{"base=oci-layout:///nowhere"}, db: dbFlags{dir: t.TempDir()}})
		if a == nil {
			t.Fatal("no advisor")
		}
		platform := ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
		a.prefetch(platform)
		a.advise(frontend.PlatformScan{Platform: platforms.Format(platform), Report: &report.Scan{Verdict: policy.Verdict{Pass: true}}})
		a.close()
		if len(a.lines) != 0 {
			t.Errorf("%q: advice %v, want none", dockerfile, a.lines)
		}
	}
}
