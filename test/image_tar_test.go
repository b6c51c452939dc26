package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/secure-build/secure-build/internal/testutil"
)

// TestImageTarTargets: the OCI tar that "-o type=oci,dest=app.tar" writes
// is a target of sbom and scan as oci-layout:app.tar, docker-archive:app.tar
// and a bare app.tar; so is the tar of "-o type=docker". A truncated tar is
// an error naming the file.
func TestImageTarTargets(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, "FROM {{base}}\nCOPY node_modules /app/node_modules\n", map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.6"),
		"node_modules/listed/package.json":   npmPackage("listed", "2.0.1"),
	})
	out := t.TempDir()
	ociTar, dockerTar := filepath.Join(out, "app.tar"), filepath.Join(out, "docker.tar")
	if r := e.build(t, dir, "-o", "type=oci,dest="+ociTar); r.Code != 0 {
		t.Fatalf("build -o type=oci: exit %d\n%s", r.Code, r.Stderr)
	}
	if r := e.build(t, dir, "-o", "type=docker,dest="+dockerTar); r.Code != 0 {
		t.Fatalf("build -o type=docker: exit %d\n%s", r.Code, r.Stderr)
	}

	for _, target := range []string{"oci-layout:" + ociTar, "docker-archive:" + ociTar, ociTar, dockerTar, "docker-archive:" + dockerTar} {
		r := runCmd(t, nil, binary, "sbom", target)
		if r.Code != 0 || !strings.Contains(r.Stdout, "minimist") || !strings.Contains(r.Stdout, "1.2.6") {
			t.Errorf("sbom %s: exit %d, want minimist 1.2.6 listed\nstdout:\n%s\nstderr:\n%s", target, r.Code, r.Stdout, r.Stderr)
		}
	}
	// "listed" has a critical with no fix: found, and passing the default
	// policy.
	for _, target := range []string{"oci-layout:" + ociTar, ociTar, dockerTar} {
		r := runCmd(t, nil, binary, "scan", "--db", e.db, "--format", "json", target)
		if r.Code != 0 || !strings.Contains(r.Stdout, unfixedCriticalID) {
			t.Errorf("scan %s: exit %d, want 0 finding %s\nstdout:\n%.3000s\nstderr:\n%s", target, r.Code, unfixedCriticalID, r.Stdout, r.Stderr)
		}
	}

	whole, err := os.ReadFile(ociTar)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(out, "truncated.tar")
	if err := os.WriteFile(truncated, whole[:len(whole)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{truncated, "oci-layout:" + truncated} {
		r := runCmd(t, nil, binary, "sbom", target)
		if want := truncated + " is a truncated or corrupt tar"; r.Code != 2 || !strings.Contains(r.Stderr, want) {
			t.Errorf("sbom %s: exit %d, want 2 saying %q\n%s", target, r.Code, want, r.Stderr)
		}
	}
	// A directory is still a root filesystem.
	if r := runCmd(t, nil, binary, "sbom", testutil.DebianRoot(t)); r.Code != 0 || !strings.Contains(r.Stdout, "deb") {
		t.Errorf("sbom of a directory: exit %d\n%s", r.Code, r.Stderr)
	}
}

// TestScanDockerSave: the tar "docker save" of Docker Engine writes (an OCI
// layout with docker's manifest.json) is a target by its content, and as
// docker-archive: and oci-layout:.
func TestScanDockerSave(t *testing.T) {
	t.Parallel()
	engine := dockerEngine(t)
	env := engine.CLI(t, map[string]string{"docker-secure": binary})
	module, err := crane.Layer(map[string][]byte{"app/node_modules/listed/package.json": []byte(npmPackage("listed", "2.0.1"))})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(testutil.BusyboxImage(t, "ID=debian\nVERSION_ID=12\n"), module)
	if err != nil {
		t.Fatal(err)
	}
	engine.Load(t, env, "imagetar-app:1", img)
	saved := filepath.Join(t.TempDir(), "saved.tar")
	engine.MustDocker(t, env, "save", "-o", saved, "imagetar-app:1")
	for _, target := range []string{saved, "docker-archive:" + saved, "oci-layout:" + saved} {
		r := runCmd(t, nil, binary, "sbom", target)
		if r.Code != 0 || !strings.Contains(r.Stdout, "listed") || !strings.Contains(r.Stdout, "2.0.1") {
			t.Errorf("sbom %s: exit %d, want listed 2.0.1\nstdout:\n%s\nstderr:\n%s", target, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// TestVerifyUnnamedImage: an image exported without -t has attestations
// whose statements have no subject (BuildKit names the subject only for
// an image with a name). Pushed as it is, verify and inspect read them,
// bound to the image manifest by the attestation manifest's
// vnd.docker.reference.digest.
func TestVerifyUnnamedImage(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dir := e.project(t, "FROM {{base}}\nCOPY minimist.json /app/node_modules/minimist/package.json\n",
		map[string]string{"minimist.json": npmPackage("minimist", "1.2.6")})
	layoutDir := filepath.Join(t.TempDir(), "layout")
	if r := e.build(t, dir, "-o", "type=oci,tar=false,dest="+layoutDir); r.Code != 0 {
		t.Fatalf("build -o type=oci: exit %d\n%s", r.Code, r.Stderr)
	}

	// Push the exported index as "crane push" or "skopeo copy" would.
	p, err := layout.FromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("index.json of the export: %v, %+v", err, m)
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(e.reg.Ref("unnamed:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	requireNoSubject(t, idx)

	env := []string{"DOCKER_CONFIG=" + t.TempDir()}
	r := runCmd(t, env, binary, "verify", "--db", e.db, ref.String())
	if r.Code != 0 || !strings.Contains(r.Stdout, "At build: PASS") || !strings.Contains(r.Stdout, "New since the build: none") {
		t.Errorf("verify: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCmd(t, env, binary, "inspect", ref.String())
	if r.Code != 0 || !strings.Contains(r.Stdout, "Packages: 1 (npm 1)") || !strings.Contains(r.Stdout, "Verdict: PASS") {
		t.Errorf("inspect: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// requireNoSubject checks that the export's statements have no subject:
// the case this test is about, as BuildKit writes it.
func requireNoSubject(t *testing.T, idx v1.ImageIndex) {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, d := range m.Manifests {
		if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
			continue
		}
		att, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := att.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			var st struct {
				Subject       []json.RawMessage `json:"subject"`
				PredicateType string            `json:"predicateType"`
			}
			err = json.NewDecoder(rc).Decode(&st)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Subject) != 0 {
				t.Fatalf("the %s statement of an image exported without a name has a subject: %s", st.PredicateType, st.Subject)
			}
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("the export has no attestation statements")
	}
}
