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
)

// TestImageTarTargets: the OCI tar that "-o type=oci,dest=app.tar" writes
// is a target of sbom and scan as oci-layout:app.tar, docker-archive:app.tar
// and a bare app.tar; so is the tar of "-o type=docker". A truncated tar is
// an error naming the file.
func TestImageTarTargets(t *testing.T) {
	e := newBuildEnv(t)
	dir := e.project(t, "FROM {{base}}\nCOPY node_modules /app/node_modules\n", map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.6"),
		"node_modules/listed/package.json":   npmPackage("listed", "2.0.1"),
	})
	out := t.TempDir()
	ociTar, dockerTar := filepath.Join(out, "app.tar"), filepath.Join(out, "docker.tar")
	if r := e.build(t, dir, "-o", "type=oci,dest="+ociTar); r.code != 0 {
		t.Fatalf("build -o type=oci: exit %d\n%s", r.code, r.stderr)
	}
	if r := e.build(t, dir, "-o", "type=docker,dest="+dockerTar); r.code != 0 {
		t.Fatalf("build -o type=docker: exit %d\n%s", r.code, r.stderr)
	}

	for _, target := range []string{"oci-layout:" + ociTar, "docker-archive:" + ociTar, ociTar, dockerTar, "docker-archive:" + dockerTar} {
		r := runCmd(t, nil, binary, "sbom", target)
		if r.code != 0 || !strings.Contains(r.stdout, "minimist") || !strings.Contains(r.stdout, "1.2.6") {
			t.Errorf("sbom %s: exit %d, want minimist 1.2.6 listed\nstdout:\n%s\nstderr:\n%s", target, r.code, r.stdout, r.stderr)
		}
	}
	// "listed" has a critical with no fix: found, and passing the default
	// policy.
	for _, target := range []string{"oci-layout:" + ociTar, ociTar, dockerTar} {
		r := runCmd(t, nil, binary, "scan", "--db", e.db, "--format", "json", target)
		if r.code != 0 || !strings.Contains(r.stdout, unfixedCriticalID) {
			t.Errorf("scan %s: exit %d, want 0 finding %s\nstdout:\n%.3000s\nstderr:\n%s", target, r.code, unfixedCriticalID, r.stdout, r.stderr)
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
		if want := truncated + " is a truncated or corrupt tar"; r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("sbom %s: exit %d, want 2 saying %q\n%s", target, r.code, want, r.stderr)
		}
	}
	// A directory is still a root filesystem.
	if r := runCmd(t, nil, binary, "sbom", testRootfs(t)); r.code != 0 || !strings.Contains(r.stdout, "deb") {
		t.Errorf("sbom of a directory: exit %d\n%s", r.code, r.stderr)
	}
}

// TestScanDockerSave: the tar "docker save" of Docker Engine writes (an OCI
// layout with docker's manifest.json) is a target by its content, and as
// docker-archive: and oci-layout:.
func TestScanDockerSave(t *testing.T) {
	engine := startDockerEngine(t)
	env := engine.cli(t)
	module, err := crane.Layer(map[string][]byte{"app/node_modules/listed/package.json": []byte(npmPackage("listed", "2.0.1"))})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(busyboxImage(t, "ID=debian\nVERSION_ID=12\n"), module)
	if err != nil {
		t.Fatal(err)
	}
	engine.loadImage(t, env, "app:1", img)
	saved := filepath.Join(t.TempDir(), "saved.tar")
	engine.mustDocker(t, env, "save", "-o", saved, "app:1")
	for _, target := range []string{saved, "docker-archive:" + saved, "oci-layout:" + saved} {
		r := runCmd(t, nil, binary, "sbom", target)
		if r.code != 0 || !strings.Contains(r.stdout, "listed") || !strings.Contains(r.stdout, "2.0.1") {
			t.Errorf("sbom %s: exit %d, want listed 2.0.1\nstdout:\n%s\nstderr:\n%s", target, r.code, r.stdout, r.stderr)
		}
	}
}

// TestVerifyUnnamedImage: an image exported without -t has attestations
// whose statements have no subject (BuildKit names the subject only for
// an image with a name). Pushed as it is, verify and inspect read them,
// bound to the image manifest by the attestation manifest's
// vnd.docker.reference.digest.
func TestVerifyUnnamedImage(t *testing.T) {
	e := newBuildEnv(t)
	dir := e.project(t, "FROM {{base}}\nCOPY minimist.json /app/node_modules/minimist/package.json\n",
		map[string]string{"minimist.json": npmPackage("minimist", "1.2.6")})
	layoutDir := filepath.Join(t.TempDir(), "layout")
	if r := e.build(t, dir, "-o", "type=oci,tar=false,dest="+layoutDir); r.code != 0 {
		t.Fatalf("build -o type=oci: exit %d\n%s", r.code, r.stderr)
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
	ref, err := name.ParseReference(e.reg.host + "/unnamed:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	requireNoSubject(t, idx)

	env := []string{"DOCKER_CONFIG=" + t.TempDir()}
	r := runCmd(t, env, binary, "verify", "--db", e.db, ref.String())
	if r.code != 0 || !strings.Contains(r.stdout, "At build: PASS") || !strings.Contains(r.stdout, "New since the build: none") {
		t.Errorf("verify: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, env, binary, "inspect", ref.String())
	if r.code != 0 || !strings.Contains(r.stdout, "Packages: 1 (npm 1)") || !strings.Contains(r.stdout, "Verdict: PASS") {
		t.Errorf("inspect: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
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
