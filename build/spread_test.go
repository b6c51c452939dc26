package build

import (
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// A build spread over nodes pushes by digest from each node to the tags'
// repositories, each node with its own platforms; the whole solve is left
// as it was.
func TestSpreadSolve(t *testing.T) {
	outputs, err := ParseOutputs(nil, true, false, []string{"registry.example/app:1", "registry.example/app:latest"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSpread(outputs, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	whole := client.SolveOpt{FrontendAttrs: map[string]string{"platform": "linux/amd64,linux/arm64"}}
	entries := []client.ExportEntry{{Type: client.ExporterImage, Attrs: outputs[0].Attrs}}
	arm := []ocispecs.Platform{platforms.MustParse("linux/arm64")}
	node, err := s.Solve(whole, arm, entries)
	if err != nil {
		t.Fatal(err)
	}
	if got := node.FrontendAttrs["platform"]; got != "linux/arm64" {
		t.Errorf("the node's platforms: %q", got)
	}
	if got := node.Exports[0].Attrs; got["name"] != "registry.example/app" || got["push-by-digest"] != "true" || got["push"] != "true" {
		t.Errorf("the node's export: %v", got)
	}
	if whole.FrontendAttrs["platform"] != "linux/amd64,linux/arm64" || outputs[0].Attrs["name"] != "registry.example/app:1,registry.example/app:latest" {
		t.Errorf("the whole solve changed: %v, %v", whole.FrontendAttrs, outputs[0].Attrs)
	}
}

// What each node would write whole, or a docker-driver builder, is refused
// for a spread build; one node takes anything.
func TestSpreadRefuses(t *testing.T) {
	for _, spec := range []string{"type=oci,dest=app.tar", "type=local,dest=out", "type=docker"} {
		outputs, err := ParseOutputs([]string{spec}, false, false, []string{"app:1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewSpread(outputs, 2, false); err == nil || !strings.Contains(err.Error(), spec) {
			t.Errorf("%s over 2 nodes: %v", spec, err)
		}
		if s, err := NewSpread(outputs, 1, false); s != nil || err != nil {
			t.Errorf("%s on 1 node: %v, %v", spec, s, err)
		}
	}
	if _, err := NewSpread(nil, 2, true); err == nil || !strings.Contains(err.Error(), "docker driver") {
		t.Errorf("the docker driver over 2 nodes: %v", err)
	}
	if _, err := RequestedPlatforms(client.SolveOpt{FrontendAttrs: map[string]string{"platform": "linux/amd64,not a platform"}}); err == nil {
		t.Error("a bad --platform: no error")
	}
}
