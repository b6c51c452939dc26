package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// dockerBuildEnv is "docker secure build" on a real Docker Engine, through
// the real docker CLI with the plugin in a private DOCKER_CONFIG: the
// engine trusts the loopback registry that holds the base image, and the
// harness's buildkitd is there to be registered as a buildx builder.
type dockerBuildEnv struct {
	*buildEnv
	engine *testutil.DockerEngine
	env    []string // the docker CLI's: DOCKER_CONFIG, DOCKER_HOST, XDG_CACHE_HOME
}

// newDockerBuildEnv is a dockerBuildEnv on the shared engine and buildkitd.
func newDockerBuildEnv(t *testing.T) *dockerBuildEnv {
	t.Helper()
	e := newBuildEnv(t)
	engine := dockerEngine(t)
	env := append(engine.CLI(t, map[string]string{"docker-secure": binary}), "XDG_CACHE_HOME="+e.cache)
	return &dockerBuildEnv{buildEnv: e, engine: engine, env: env}
}

// secureBuild runs "docker secure build" with plain progress and the test
// database; args come before the context folder. RUN steps get no network:
// the engine runs without a bridge, and none needs one.
func (d *dockerBuildEnv) secureBuild(t *testing.T, dir string, args ...string) result {
	t.Helper()
	full := append([]string{"secure", "build", "--progress", "plain", "--network", "none", "--db", d.db}, args...)
	return d.engine.Docker(t, d.env, append(full, dir)...)
}

// pushedAttestations pushes a loaded image from the engine to the loopback
// registry with docker push and reads the predicate types of its
// attestations there, by platform: the engine pushes what its image store
// holds, attestation manifests included.
func (d *dockerBuildEnv) pushedAttestations(t *testing.T, image, repoTag string) map[string][]string {
	t.Helper()
	ref := d.reg.Ref(repoTag)
	d.engine.MustDocker(t, d.env, "tag", image, ref)
	d.engine.MustDocker(t, d.env, "push", ref)
	out := map[string][]string{}
	for platform, atts := range attested.ReadImage(t, ref).Attestations {
		out[platform] = attested.Keys(atts)
	}
	return out
}

// TestDockerBuild: docker secure build on Docker Engine's own BuildKit, the
// default builder. A passing multi-stage build is loaded into the engine
// with its attestations and runs. (That a policy failure keeps nothing and
// that --push pushes the attestations are scenarios of build_matrix_test.go.)
func TestDockerBuild(t *testing.T) {
	t.Parallel()
	d := newDockerBuildEnv(t)
	if got := d.engine.ImageStoreDriver(t, d.env); got != "io.containerd.snapshotter.v1" {
		t.Fatalf("the engine's image store is %q, want the containerd one", got)
	}
	good := d.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})

	sbom := filepath.Join(t.TempDir(), "app.spdx.json")
	r := d.secureBuild(t, good, "-t", "app:1", "--sbom-output", sbom)
	if r.Code != 0 {
		t.Fatalf("docker secure build -t app:1: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{`building with builder "default" (docker driver, chosen by the current Docker context)`,
		"secure-build linux/amd64: PASS", "SBOM (linux/amd64): " + sbom} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("build output lacks %q:\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "classic image store") || strings.Contains(r.Stderr, "No output specified") {
		t.Errorf("a build loaded into the containerd image store warns:\n%s", r.Stderr)
	}
	// The verdict comes after the progress.
	if i, j := strings.LastIndex(r.Stderr, "#"), strings.Index(r.Stderr, "secure-build linux/amd64: PASS"); i > j {
		t.Errorf("the verdict is not after the progress:\n%s", r.Stderr)
	}
	if out := d.engine.MustDocker(t, d.env, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); !slices.Contains(strings.Split(out, "\n"), "app:1") {
		t.Errorf("docker image ls does not list app:1:\n%s", out)
	}
	if r := d.engine.Docker(t, d.env, "run", "--rm", "app:1", "cat", "/app/artifact"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "built" {
		t.Errorf("docker run app:1 cat /app/artifact: exit %d, printed %q, want the build stage's output\n%s", r.Code, r.Stdout, r.Stderr)
	}
	atts := d.pushedAttestations(t, "app:1", "app:loaded")
	for _, want := range []string{attest.SPDXPredicateType, attest.VulnPredicateType} {
		if !slices.Contains(atts["linux/amd64"], want) {
			t.Errorf("the image loaded into the engine lacks the %s attestation: %v", want, atts)
		}
	}
	if b, err := os.ReadFile(sbom); err != nil || !bytes.Contains(b, []byte(`"SPDX-2.3"`)) {
		t.Errorf("--sbom-output %s: %v %.100s", sbom, err, b)
	}

}

// TestDockerBuildBuilders: --builder names a buildx builder registered in the
// Docker config (the remote driver, at the harness's buildkitd), whose image
// --load sends into the engine with its attestations; a wrong name is an
// error listing the builders there are.
func TestDockerBuildBuilders(t *testing.T) {
	t.Parallel()
	d := newDockerBuildEnv(t)
	testutil.CreateRemoteBuilder(t, d.env, "kit", d.bk.Addr)
	good := d.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})

	r := d.secureBuild(t, good, "--builder", "kit", "-t", "remote:1", "--load")
	if r.Code != 0 {
		t.Fatalf("docker secure build --builder kit --load: exit %d\n%s", r.Code, r.Stderr)
	}
	if want := `building with builder "kit" (remote driver, chosen by --builder)`; !strings.Contains(r.Stderr, want) {
		t.Errorf("build output lacks %q:\n%s", want, r.Stderr)
	}
	if r := d.engine.Docker(t, d.env, "run", "--rm", "remote:1", "cat", "/app/artifact"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "built" {
		t.Errorf("docker run remote:1 cat /app/artifact: exit %d, printed %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
	atts := d.pushedAttestations(t, "remote:1", "remote:loaded")
	for _, want := range []string{attest.SPDXPredicateType, attest.VulnPredicateType} {
		if !slices.Contains(atts["linux/amd64"], want) {
			t.Errorf("the image --load put into the engine lacks the %s attestation: %v", want, atts)
		}
	}

	// BUILDX_BUILDER names it too; "docker buildx use" makes it the active one.
	r = d.engine.Docker(t, append(d.env, "BUILDX_BUILDER=kit"), "secure", "build", "--progress", "plain", "--network", "none", "--db", d.db, good)
	if r.Code != 0 || !strings.Contains(r.Stderr, `builder "kit" (remote driver, chosen by BUILDX_BUILDER)`) {
		t.Errorf("BUILDX_BUILDER=kit: exit %d\n%s", r.Code, r.Stderr)
	}
	d.engine.MustDocker(t, d.env, "buildx", "use", "kit")
	r = d.secureBuild(t, good)
	if r.Code != 0 || !strings.Contains(r.Stderr, `builder "kit" (remote driver, chosen by "docker buildx use")`) {
		t.Errorf("after docker buildx use kit: exit %d\n%s", r.Code, r.Stderr)
	}

	r = d.secureBuild(t, good, "--builder", "nope")
	if r.Code != 1 || !strings.Contains(r.Stderr, `no builder "nope" (from --builder): the builders are kit (remote), default (docker)`) {
		t.Errorf("--builder nope: exit %d, want 1 naming it and the builders there are\n%s", r.Code, r.Stderr)
	}
}

// TestDockerBuildInterrupt: Ctrl-C (SIGINT to the docker CLI, as a terminal
// sends it) stops a running build: the command ends soon with a non-zero
// status, saying so, and the output file is neither written nor left half
// written.
func TestDockerBuildInterrupt(t *testing.T) {
	t.Parallel()
	d := newDockerBuildEnv(t)
	dir := d.project(t, "FROM {{base}}\nRUN /bin/busybox sleep 120\n", map[string]string{})
	out := t.TempDir()
	cmd := exec.Command("docker", "secure", "build", "--progress", "plain", "--network", "none", "--db", d.db,
		"-o", "type=oci,dest="+filepath.Join(out, "app.tar"), dir)
	cmd.Env = append(append(os.Environ(), d.env...), "DOCKER_HOST="+d.engine.Host)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(stderr.String(), "busybox sleep 120") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the RUN step did not start:\n%s", stderr.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("the build ended before the RUN step: %v\n%s", err, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(time.Second)
	interrupted := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Errorf("an interrupted build exited 0")
		}
		t.Logf("exited %v after %s", err, time.Since(interrupted).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the build did not stop within 30s of SIGINT:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "build canceled") {
		t.Errorf("an interrupted build does not say it was canceled:\n%s", stderr.String())
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("an interrupted build left %v in the output folder", entries)
	}
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
