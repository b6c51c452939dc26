package builder

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/platforms"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerCLI is a Docker CLI on a private Docker config and the buildx
// store files (BUILDX_CONFIG, as the Docker CLI reads DOCKER_CONFIG once a
// process) "docker buildx create" and "docker buildx use" leave; no daemon
// is there.
func dockerCLI(t *testing.T, files map[string]string) command.Cli {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, "buildx", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(dir, "no-daemon.sock"))
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("BUILDX_CONFIG", filepath.Join(dir, "buildx"))
	t.Setenv("BUILDX_BUILDER", "")
	t.Setenv("BUILDKIT_HOST", "")
	cli, err := command.NewDockerCli()
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Initialize(flags.NewClientOptions()); err != nil {
		t.Fatal(err)
	}
	return cli
}

const (
	remoteBuilder = `{"Name":"remote1","Driver":"remote","Nodes":[{"Name":"remote10","Endpoint":"tcp://10.0.0.5:1234",
"Platforms":null,"DriverOpts":{"cacert":"/certs/ca.pem","cert":"/certs/cert.pem","key":"/certs/key.pem"},"Flags":null,"Files":null}],"Dynamic":false}`
	containerBuilder = `{"Name":"ctr","Driver":"docker-container","Nodes":[{"Name":"ctr0","Endpoint":"default","Platforms":null}],"Dynamic":false}`
)

// The builder is chosen as docker buildx build chooses it, BUILDKIT_HOST
// between BUILDX_BUILDER and "docker buildx use"; each is read from the
// buildx store through buildx's own packages.
func TestChoose(t *testing.T) {
	cli := dockerCLI(t, map[string]string{
		"instances/remote1": remoteBuilder,
		"instances/ctr":     containerBuilder,
		"current":           `{"Key":"elsewhere","Name":"ctr","Global":true}`,
	})
	ctx := context.Background()
	check := func(name, flag, want string) {
		t.Helper()
		b, err := Choose(ctx, cli, flag, ".")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b.String() != want {
			t.Errorf("%s: got %s, want %s", name, b, want)
		}
	}
	check("docker buildx use --global", "", `builder "ctr" (docker-container driver, chosen by "docker buildx use")`)
	t.Setenv("BUILDKIT_HOST", "tcp://127.0.0.1:1234")
	check("BUILDKIT_HOST", "", "BuildKit at tcp://127.0.0.1:1234 (BUILDKIT_HOST)")
	t.Setenv("BUILDX_BUILDER", "Remote1")
	check("BUILDX_BUILDER", "", `builder "remote1" (remote driver, chosen by BUILDX_BUILDER)`)
	check("--builder", "ctr", `builder "ctr" (docker-container driver, chosen by --builder)`)

	// The remote driver reads its TLS options itself: a relative path is
	// buildx's error.
	bad := dockerCLI(t, map[string]string{"instances/tls": `{"Name":"tls","Driver":"remote","Nodes":[{"Name":"tls0","Endpoint":"tcp://10.0.0.5:1234","DriverOpts":{"cacert":"ca.pem"}}]}`})
	if _, err := Choose(ctx, bad, "tls", "."); err == nil || !strings.Contains(err.Error(), `builder "tls"`) || !strings.Contains(err.Error(), "ca.pem") {
		t.Errorf("a relative cacert: %v", err)
	}
}

// A wrong name is an error naming it and listing the builders there are.
func TestUnknownBuilder(t *testing.T) {
	cli := dockerCLI(t, map[string]string{"instances/remote1": remoteBuilder, "instances/ctr": containerBuilder})
	_, err := Choose(context.Background(), cli, "nope", ".")
	want := `no builder "nope" (from --builder): the builders are ctr (docker-container), remote1 (remote), default (docker)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// TestDefaultLoad: a builder made with --driver-opt default-load=true loads
// by default; a value that is no boolean is an error naming it.
func TestDefaultLoad(t *testing.T) {
	cli := dockerCLI(t, map[string]string{
		"instances/loader": `{"Name":"loader","Driver":"remote","Nodes":[{"Name":"loader0","Endpoint":"tcp://10.0.0.5:1234","DriverOpts":{"default-load":"true"}}]}`,
		"instances/bad":    `{"Name":"bad","Driver":"remote","Nodes":[{"Name":"bad0","Endpoint":"tcp://10.0.0.5:1234","DriverOpts":{"default-load":"maybe"}}]}`,
	})
	b, err := Choose(context.Background(), cli, "loader", ".")
	if err != nil || !b.DefaultLoad() {
		t.Fatalf("default-load=true: %v, %v", b, err)
	}
	if _, err := Choose(context.Background(), cli, "bad", "."); err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("default-load=maybe: %v", err)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestKubernetesBuilder: a kubernetes builder, as "docker buildx create
// --driver kubernetes" stores it, resolves and its driver is made from the
// kubeconfig; reaching it (no cluster here: the kubeconfig names a closed
// loopback port) fails naming the builder and the cluster's address.
func TestKubernetesBuilder(t *testing.T) {
	api := closedPort(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://`+api+`
    insecure-skip-tls-verify: true
users:
- name: test
  user:
    token: not-a-real-token
contexts:
- name: test
  context:
    cluster: test
    user: test
    namespace: builds
current-context: test
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := dockerCLI(t, map[string]string{
		"instances/k8s": `{"Name":"k8s","Driver":"kubernetes","Nodes":[{"Name":"k8s0","Endpoint":"default","Platforms":null,
"DriverOpts":{"namespace":"builds","replicas":"1"},"Flags":null,"Files":null}],"Dynamic":false}`,
	})
	t.Setenv("KUBECONFIG", kubeconfig)
	ctx := context.Background()
	b, err := Choose(ctx, cli, "k8s", ".")
	if err != nil {
		t.Fatalf("choose the kubernetes builder: %v", err)
	}
	if want := `builder "k8s" (kubernetes driver, chosen by --builder)`; b.String() != want {
		t.Errorf("got %s, want %s", b, want)
	}
	nodes, err := b.Nodes(ctx, []ocispecs.Platform{platforms.MustParse("linux/amd64")})
	if err != nil || len(nodes) != 1 || nodes[0].Name != "k8s0" {
		t.Fatalf("nodes: %+v, %v", nodes, err)
	}
	if nodes[0].Driver.IsMobyDriver() {
		t.Error("a kubernetes node taken for Docker Engine's BuildKit")
	}
	_, err = nodes[0].Driver.Client(ctx)
	if err == nil || !strings.Contains(err.Error(), api) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("dialing a cluster that is not there: %v; want an error naming %s", err, api)
	}

	// Without a cluster config at all, the driver cannot be made: the
	// error names the builder and its node.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
	if _, err := Choose(ctx, cli, "k8s", "."); err == nil || !strings.Contains(err.Error(), `builder "k8s"`) || !strings.Contains(err.Error(), "k8s0") {
		t.Errorf("no kubeconfig: %v", err)
	}
}

// An unreachable remote node says why at once (buildx's boot would wait
// 20 s for it and then say only that the wait ended).
func TestUnreachableRemote(t *testing.T) {
	cli := dockerCLI(t, nil)
	sock := filepath.Join(t.TempDir(), "nothing.sock")
	t.Setenv("BUILDKIT_HOST", "unix://"+sock)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Choose(ctx, cli, "", ".")
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := b.Nodes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := nodes[0].Driver.Client(ctx)
	if err == nil {
		defer c.Close()
		_, err = c.ListWorkers(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("dial a socket that is not there: %v; want an error naming %s", err, sock)
	}
}
