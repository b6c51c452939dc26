package plugin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
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
