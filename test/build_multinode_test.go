package test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	controlapi "github.com/moby/buildkit/api/services/control"
	"github.com/moby/buildkit/client"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// buildxStore writes a buildx builder into a fresh Docker config, as
// "docker buildx create" (and --append, --platform) saves it, and returns
// the config folder.
func buildxStore(t *testing.T, builder any) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(builder)
	if err != nil {
		t.Fatal(err)
	}
	var name struct{ Name string }
	if err := json.Unmarshal(b, &name); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "buildx", "instances", name.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// builtPlatforms are the platforms of the builds a buildkitd ran, read
// from its own build history.
func builtPlatforms(t *testing.T, bk *testutil.BuildKit) []string {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(ctx, bk.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stream, err := c.ControlClient().ListenBuildHistory(ctx, &controlapi.BuildHistoryRequest{EarlyExit: true})
	if err != nil {
		t.Fatalf("build history of %s: %v", bk.Addr, err)
	}
	var out []string
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("build history of %s: %v", bk.Addr, err)
		}
		if p := ev.Record.GetFrontendAttrs()["platform"]; p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// TestBuildMultiNode: a remote-driver builder of two nodes, each declaring
// one platform (docker buildx create --platform, then --append), builds each
// requested platform on its own node, as docker buildx build spreads them;
// the pushed tag is one index of both platforms, each with its attestations.
// Which node built what is read from each buildkitd's build history.
func TestBuildMultiNode(t *testing.T) {
	t.Parallel()
	amd64Node, arm64Node := ownBuildKit(t), ownBuildKit(t)
	e := newBuildEnvOn(t, amd64Node)
	config := buildxStore(t, map[string]any{
		"Name":   "spread",
		"Driver": "remote",
		"Nodes": []map[string]any{
			{"Name": "spread0", "Endpoint": amd64Node.Addr, "Platforms": []map[string]string{{"os": "linux", "architecture": "amd64"}}},
			{"Name": "spread1", "Endpoint": arm64Node.Addr, "Platforms": []map[string]string{{"os": "linux", "architecture": "arm64"}}},
		},
	})
	// The build stage runs on the build platform and the final stage is
	// COPY-only: the arm64 node needs no emulator.
	dockerfile := `FROM --platform=$BUILDPLATFORM {{base}} AS build
ARG TARGETARCH
RUN mkdir -p /out/node_modules/listed && echo "$TARGETARCH" > /out/arch
COPY listed.json /out/node_modules/listed/package.json

FROM scratch
COPY --from=build /out /app
`
	dir := e.project(t, dockerfile, map[string]string{"listed.json": npmPackage("listed", "2.0.1")})
	ref := e.reg.Ref("spread:1")
	env := []string{"DOCKER_CONFIG=" + config, "DOCKER_HOST=unix://" + filepath.Join(config, "no-daemon.sock"), "XDG_CACHE_HOME=" + e.cache}
	r := runCmd(t, env, binary, "build", "--progress", "plain", "--db", e.db, "--builder", "spread",
		"--platform", "linux/amd64,linux/arm64", "-t", ref, "--push", dir)
	if r.Code != 0 {
		t.Fatalf("build on the two-node builder: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		`building with builder "spread" (remote driver, chosen by --builder)`,
		"secure-build: node spread0 builds linux/amd64", "secure-build: node spread1 builds linux/arm64",
		"secure-build linux/amd64: PASS", "secure-build linux/arm64: PASS",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("build output does not say %q:\n%s", want, r.Stderr)
		}
	}
	if n := strings.Count(r.Stderr, " - dockerfile.non-root-user"); n != 1 {
		t.Errorf("the Dockerfile's warning is listed %d times, want once:\n%s", n, r.Stderr)
	}
	if got := builtPlatforms(t, amd64Node); !slices.Equal(got, []string{"linux/amd64"}) {
		t.Errorf("node spread0 built %v, want linux/amd64 alone", got)
	}
	if got := builtPlatforms(t, arm64Node); !slices.Equal(got, []string{"linux/arm64"}) {
		t.Errorf("node spread1 built %v, want linux/arm64 alone", got)
	}
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		attested.Assert(t, ref, platform, attested.Want{Package: "listed@2.0.1", Finding: unfixedCriticalID})
	}

	// Outputs a node would each write whole are refused before building.
	r = runCmd(t, env, binary, "build", "--progress", "plain", "--db", e.db, "--builder", "spread",
		"--platform", "linux/amd64,linux/arm64", "-o", "type=oci,dest="+filepath.Join(t.TempDir(), "app.tar"), dir)
	if r.Code != 1 || !strings.Contains(r.Stderr, "spread over 2 nodes") {
		t.Errorf("-o type=oci on two nodes: exit %d, want 1 saying why\n%s", r.Code, r.Stderr)
	}
}
