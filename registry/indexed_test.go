package registry

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/secure-build/secure-build/internal/testutil"
)

// TestOpenIndexed: the image comes with the index it was picked from,
// where its attestations are: an OCI layout's nested index, a registry's
// index; none for a lone manifest or a docker save archive.
func TestOpenIndexed(t *testing.T) {
	ctx := context.Background()
	img := randomImage(t)
	other := randomImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	nested := t.TempDir()
	p, err := layout.Write(nested, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	lone := t.TempDir()
	if p, err = layout.Write(lone, empty.Index); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	host := testutil.MemoryRegistry(t, nil)
	ref, err := name.ParseReference(host + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "app.tar")
	if err := tarball.WriteToFile(archive, ref, img); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		source    string
		withIndex bool
	}{
		{OCILayoutPrefix + nested, true},
		{RegistryPrefix + ref.String(), true},
		{OCILayoutPrefix + lone, true}, // the layout's own index.json
		{DockerArchivePrefix + archive, false},
	} {
		got, from, err := OpenIndexed(ctx, tc.source)
		if err != nil {
			t.Fatalf("%s: %v", tc.source, err)
		}
		if digestOf(t, got) != digestOf(t, img) {
			t.Errorf("%s: opened %s, want %s", tc.source, digestOf(t, got), digestOf(t, img))
		}
		if (from != nil) != tc.withIndex {
			t.Errorf("%s: index %v, want one: %v", tc.source, from, tc.withIndex)
			continue
		}
		if from == nil {
			continue
		}
		m, err := from.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := from.Digest(); tc.source != OCILayoutPrefix+lone && d != idxDigest || len(m.Manifests) == 0 {
			t.Errorf("%s: index %s with %d manifests, want %s", tc.source, d, len(m.Manifests), idxDigest)
		}
	}
}
