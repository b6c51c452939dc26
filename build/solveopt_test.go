package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
)

func TestBuildContexts(t *testing.T) {
	layout := t.TempDir()
	index := `{"schemaVersion":2,"manifests":[
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaa","size":1,"annotations":{"org.opencontainers.image.ref.name":"1"}},
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbb","size":1,"annotations":{"org.opencontainers.image.ref.name":"2"}}]}`
	if err := os.WriteFile(filepath.Join(layout, "index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	solve := client.SolveOpt{FrontendAttrs: map[string]string{}, LocalMounts: map[string]fsutil.FS{}, OCIStores: map[string]content.Store{}}
	err := addBuildContexts(&solve, []string{
		"base=oci-layout://" + layout + ":2",
		"pinned=oci-layout://" + layout + "@sha256:aaaa",
		"src=" + src,
		"alpine=docker-image://alpine:3.20",
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"context:base":   "oci-layout://oci-layout-0:2@sha256:bbbb",
		"context:pinned": "oci-layout://oci-layout-1@sha256:aaaa",
		"context:src":    "local:src",
		"context:alpine": "docker-image://alpine:3.20",
	} {
		if got := solve.FrontendAttrs[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if solve.LocalMounts["src"] == nil || solve.OCIStores["oci-layout-0"] == nil || len(solve.OCIStores) != 2 {
		t.Errorf("the folder or the layout is not sent: %v %v", solve.LocalMounts, solve.OCIStores)
	}
	// The layout's only image, chosen without a tag or digest: sent as
	// latest, which the pinning rule judges.
	single := t.TempDir()
	if err := os.WriteFile(filepath.Join(single, "index.json"), []byte(`{"schemaVersion":2,"manifests":[
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cccc","size":1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := addBuildContexts(&solve, []string{"only=oci-layout://" + single}); err != nil {
		t.Fatal(err)
	}
	if got, want := solve.FrontendAttrs["context:only"], "oci-layout://oci-layout-2:latest@sha256:cccc"; got != want {
		t.Errorf("context:only = %q, want %q", got, want)
	}
	for spec, want := range map[string]string{
		"base=oci-layout://" + layout:             "holds 2 images",
		"base=oci-layout://" + layout + ":3":      `0 images tagged "3"`,
		"base=oci-layout://" + t.TempDir() + ":1": "index.json",
		"novalue": "name=value",
	} {
		err := addBuildContexts(&solve, []string{spec})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--build-context %s: got %v, want an error saying %q", spec, err, want)
		}
	}
}
