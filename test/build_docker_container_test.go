package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-build/secure-build/internal/testutil"
)

// TestDockerBuildContainerDriver: a docker-container builder is reached as
// buildx reaches it, through buildx's own driver: "buildctl dial-stdio" run
// in the builder's buildx_buildkit_<node> container through the Docker API.
// The container here is a Debian with buildctl whose dial-stdio reaches the
// harness's buildkitd through its socket, mounted where buildctl looks.
func TestDockerBuildContainerDriver(t *testing.T) {
	t.Parallel()
	d := newDockerBuildEnv(t)
	_, buildctl := testutil.BuildKitBinaries(t)
	exe, err := os.ReadFile(buildctl)
	if err != nil {
		t.Fatal(err)
	}
	img := testutil.DebianImage(t)
	layer := testutil.FileLayer(t, map[string][]byte{"usr/local/bin/buildctl": exe})
	d.engine.Load(t, d.env, "builder-image:1", testutil.Image(t, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sleep", "infinity"},
	}, append(layersOf(t, img), layer)...))
	container := "buildx_buildkit_ctr0"
	sock := strings.TrimPrefix(d.bk.Addr, "unix://")
	d.engine.MustDocker(t, d.env, "run", "-d", "--name", container, "--network", "none",
		"-v", sock+":/run/buildkit/buildkitd.sock", "builder-image:1")
	t.Cleanup(func() { d.engine.Docker(t, d.env, "rm", "-f", container) })

	var config string
	for _, kv := range d.env {
		if v, ok := strings.CutPrefix(kv, "DOCKER_CONFIG="); ok {
			config = v
		}
	}
	path := filepath.Join(config, "buildx", "instances", "ctr")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	entry := `{"Name":"ctr","Driver":"docker-container","Nodes":[{"Name":"ctr0","Endpoint":"default","Platforms":null,"DriverOpts":{},"Flags":null,"Files":null}],"Dynamic":false}`
	if err := os.WriteFile(path, []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}

	good := d.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	r := d.secureBuild(t, good, "--builder", "ctr", "-t", "ctr:1", "--load")
	if r.Code != 0 {
		t.Fatalf("docker secure build --builder ctr --load: exit %d\n%s", r.Code, r.Stderr)
	}
	if want := `building with builder "ctr" (docker-container driver, chosen by --builder)`; !strings.Contains(r.Stderr, want) {
		t.Errorf("build output lacks %q:\n%s", want, r.Stderr)
	}
	if r := d.engine.Docker(t, d.env, "run", "--rm", "ctr:1", "cat", "/app/artifact"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "built" {
		t.Errorf("docker run ctr:1 cat /app/artifact: exit %d, printed %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

// layersOf are img's layers.
func layersOf(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return layers
}
