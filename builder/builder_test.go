package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBuildxStore writes a buildx store as "docker buildx create" and
// "docker buildx use" leave it.
func fakeBuildxStore(t *testing.T, files map[string]string) buildxStore {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "buildx")
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return buildxStore{dir: dir}
}

const (
	remoteBuilder = `{"Name":"remote1","Driver":"remote","Nodes":[{"Name":"remote10","Endpoint":"tcp://10.0.0.5:1234",
"Platforms":null,"DriverOpts":{"cacert":"/certs/ca.pem","cert":"/certs/cert.pem","key":"/certs/key.pem"},"Flags":null,"Files":null}],"Dynamic":false}`
	containerBuilder = `{"Name":"ctr","Driver":"docker-container","Nodes":[{"Name":"ctr0","Endpoint":"desktop","Platforms":null}],"Dynamic":false}`
)

func TestResolveBuilder(t *testing.T) {
	store := fakeBuildxStore(t, map[string]string{
		"instances/remote1": remoteBuilder,
		"instances/ctr":     containerBuilder,
	})
	env := map[string]string{}
	src := sources{
		getenv:         func(k string) string { return env[k] },
		store:          store,
		contexts:       []string{"default", "desktop"},
		currentContext: "default",
		endpointKey:    "unix:///var/run/docker.sock",
	}
	check := func(name string, src sources, want Builder) {
		t.Helper()
		got, err := resolve(src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.name != want.name || got.driver != want.driver || got.endpoint != want.endpoint || got.chosenBy != want.chosenBy || got.node != want.node {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}

	check("nothing set", src, Builder{name: "default", driver: "docker", endpoint: "default", chosenBy: "the current Docker context"})

	// "docker buildx use ctr" for this endpoint, then BUILDKIT_HOST, then
	// BUILDX_BUILDER, then --builder: each wins over the ones before.
	use := `{"Key":"unix:///var/run/docker.sock","Name":"ctr","Global":false}`
	if err := os.WriteFile(filepath.Join(store.dir, "current"), []byte(use), 0o600); err != nil {
		t.Fatal(err)
	}
	check("docker buildx use", src, Builder{name: "ctr", driver: "docker-container", endpoint: "desktop", node: "ctr0", chosenBy: `"docker buildx use"`})
	env["BUILDKIT_HOST"] = "tcp://buildkitd:1234"
	check("BUILDKIT_HOST", src, Builder{name: "tcp://buildkitd:1234", driver: driverHost, endpoint: "tcp://buildkitd:1234", chosenBy: "BUILDKIT_HOST"})
	env["BUILDX_BUILDER"] = "Remote1"
	check("BUILDX_BUILDER", src, Builder{name: "remote1", driver: "remote", endpoint: "tcp://10.0.0.5:1234", chosenBy: "BUILDX_BUILDER"})
	flagged := src
	flagged.flag = "desktop"
	check("--builder a context", flagged, Builder{name: "desktop", driver: "docker", endpoint: "desktop", chosenBy: "--builder"})

	// The remote driver's TLS files are kept for the client.
	got, err := resolve(src)
	if err != nil || got.tls["cacert"] != "/certs/ca.pem" || got.tls["key"] != "/certs/key.pem" {
		t.Errorf("remote TLS options: %+v, %v", got.tls, err)
	}

	// "use" made for another endpoint does not apply here; a global one does.
	delete(env, "BUILDX_BUILDER")
	delete(env, "BUILDKIT_HOST")
	other := `{"Key":"tcp://elsewhere:2376","Name":"ctr","Global":false}`
	if err := os.WriteFile(filepath.Join(store.dir, "current"), []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	check("use for another endpoint", src, Builder{name: "default", driver: "docker", endpoint: "default", chosenBy: "the current Docker context"})
	global := `{"Key":"tcp://elsewhere:2376","Name":"remote1","Global":true}`
	if err := os.WriteFile(filepath.Join(store.dir, "current"), []byte(global), 0o600); err != nil {
		t.Fatal(err)
	}
	check("use --global", src, Builder{name: "remote1", driver: "remote", endpoint: "tcp://10.0.0.5:1234", chosenBy: `"docker buildx use"`})

	// "use --default" for this endpoint: the defaults file named by the
	// endpoint's hash.
	if err := os.Remove(filepath.Join(store.dir, "current")); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(src.endpointKey))
	def := filepath.Join(store.dir, "defaults", hex.EncodeToString(sum[:])[:20])
	if err := os.MkdirAll(filepath.Dir(def), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, []byte("ctr"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("use --default", src, Builder{name: "ctr", driver: "docker-container", endpoint: "desktop", node: "ctr0", chosenBy: `"docker buildx use"`})

	// An active builder since removed leaves the context's engine, as in buildx.
	if err := os.WriteFile(def, []byte("gone"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("removed active builder", src, Builder{name: "default", driver: "docker", endpoint: "default", chosenBy: "the current Docker context"})
}

// A wrong name is an error naming it and listing the builders there are.
func TestUnknownBuilder(t *testing.T) {
	src := sources{
		flag:     "nope",
		getenv:   func(string) string { return "" },
		store:    fakeBuildxStore(t, map[string]string{"instances/remote1": remoteBuilder, "instances/ctr": containerBuilder}),
		contexts: []string{"default"},
	}
	_, err := resolve(src)
	if _, ok := errors.AsType[*unknownBuilderError](err); !ok {
		t.Fatalf("got %v, want an unknown builder error", err)
	}
	want := `no builder "nope" (from --builder): the builders are ctr (docker-container), remote1 (remote), default (docker)`
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err, want)
	}

	src.flag = "k8s"
	src.store = fakeBuildxStore(t, map[string]string{"instances/k8s": `{"Name":"k8s","Driver":"kubernetes","Nodes":[{"Name":"k8s0"}]}`})
	if _, err := resolve(src); err == nil || !strings.Contains(err.Error(), "kubernetes driver") {
		t.Errorf("an unsupported driver: got %v", err)
	}
}

func TestRemoteTLS(t *testing.T) {
	spec := Builder{endpoint: "tcp://buildkitd.example:1234", tls: map[string]string{"cacert": "/ca.pem", "cert": "/c.pem", "key": "/k.pem"}}
	opts, err := remoteTLS(spec)
	if err != nil || len(opts) != 2 {
		t.Errorf("CA and client certificate: %d options, %v", len(opts), err)
	}
	if opts, err := remoteTLS(Builder{endpoint: "tcp://h:1"}); err != nil || opts != nil {
		t.Errorf("no TLS: %v, %v", opts, err)
	}
	spec.tls = map[string]string{"cacert": "/ca.pem", "cert": "/c.pem"}
	if _, err := remoteTLS(spec); err == nil {
		t.Error("a cert without its key: no error")
	}
}

// TestDefaultLoad: a builder made with --driver-opt default-load=true is
// accepted (it is no TLS option) and loads by default.
func TestDefaultLoad(t *testing.T) {
	store := fakeBuildxStore(t, map[string]string{
		"instances/loader": `{"Name":"loader","Driver":"remote","Nodes":[{"Name":"loader0","Endpoint":"tcp://10.0.0.5:1234","DriverOpts":{"default-load":"true"}}]}`,
		"instances/bad":    `{"Name":"bad","Driver":"remote","Nodes":[{"Name":"bad0","Endpoint":"tcp://10.0.0.5:1234","DriverOpts":{"default-load":"maybe"}}]}`,
	})
	src := sources{getenv: func(string) string { return "" }, store: store, contexts: []string{"default"}, currentContext: "default", flag: "loader"}
	spec, err := resolve(src)
	if err != nil || !spec.defaultLoad {
		t.Fatalf("default-load=true: %+v, %v", spec, err)
	}
	if opts, err := remoteTLS(spec); err != nil || opts != nil {
		t.Errorf("default-load taken for a TLS option: %v, %v", opts, err)
	}
	src.flag = "bad"
	if _, err := resolve(src); err == nil || !strings.Contains(err.Error(), "default-load") {
		t.Errorf("default-load=maybe: %v", err)
	}
}
