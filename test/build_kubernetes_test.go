package test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildKubernetesBuilder: a kubernetes-driver builder, as "docker buildx
// create --driver kubernetes" stores it, is resolved and its driver made
// from the kubeconfig; with no cluster on this machine (the kubeconfig names
// a closed loopback port) the build fails saying which builder and which
// cluster address could not be reached, not that the driver is unsupported.
func TestBuildKubernetesBuilder(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := l.Addr().String()
	l.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: ci
  cluster:
    server: https://`+api+`
    insecure-skip-tls-verify: true
users:
- name: ci
  user:
    token: not-a-real-token
contexts:
- name: ci
  context: {cluster: ci, user: ci, namespace: builds}
current-context: ci
`), 0o600); err != nil {
		t.Fatal(err)
	}
	config := buildxStore(t, map[string]any{
		"Name":   "k8s",
		"Driver": "kubernetes",
		"Nodes": []map[string]any{{"Name": "k8s0", "Endpoint": "default",
			"DriverOpts": map[string]string{"namespace": "builds", "replicas": "2", "loadbalance": "sticky"}}},
	})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"DOCKER_CONFIG=" + config, "DOCKER_HOST=unix://" + filepath.Join(config, "no-daemon.sock"),
		"KUBECONFIG=" + kubeconfig, "XDG_CACHE_HOME=" + t.TempDir()}
	db := filepath.Join(t.TempDir(), "db")
	if r := runCmd(t, nil, binary, "db", "import", "--db", db, "../vuln/testdata/osv/npm"); r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
	r := runCmd(t, env, binary, "build", "--progress", "plain", "--db", db, "--builder", "k8s", dir)
	if r.Code != 1 {
		t.Fatalf("build on an unreachable kubernetes builder: exit %d, want 1\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{`connect to builder "k8s" (kubernetes driver, chosen by --builder)`, api, "connection refused"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "supports the docker") {
		t.Errorf("the kubernetes driver refused as unsupported:\n%s", r.Stderr)
	}
}
