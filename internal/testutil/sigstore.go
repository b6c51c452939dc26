package testutil

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// CosignBinary is the cosign scripts/lib.sh build_cosign builds from its
// module at a pinned version (SECURE_BUILD_COSIGN), the real consumer of
// signed attestations.
func CosignBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("SECURE_BUILD_COSIGN")
	if path == "" {
		RequireE2E(t, "SECURE_BUILD_COSIGN is not set (scripts/lib.sh build_cosign sets it)")
	}
	if _, err := os.Stat(path); err != nil {
		RequireE2E(t, "SECURE_BUILD_COSIGN=%s: %v", path, err)
	}
	return path
}

// DistributionRegistry starts Debian's docker-registry (CNCF distribution
// 2.8), a registry without the OCI 1.1 referrers API, on 127.0.0.1 with its
// storage in a temporary folder, stopped when the test ends. It returns its
// host:port.
func DistributionRegistry(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		RequireE2E(t, "docker-registry is not installed (apt-get install docker-registry)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, fmt.Appendf(nil, "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon("docker-registry", filepath.Join(dir, "registry.log"), nil, bin, "serve", config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if msg := d.stop(10 * time.Second); msg != "" {
			t.Log(msg)
		}
		if t.Failed() {
			t.Logf("docker-registry log:\n%s", d.tail(30))
		}
	})
	err = d.waitReady(30*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("docker-registry on %s: %v\n%s", addr, err, d.tail(30))
	}
	return addr
}
