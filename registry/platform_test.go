package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-build/secure-build/internal/testutil"
)

// platformImage is a random image for platform, built at created.
func platformImage(t *testing.T, os, arch string, created time.Time) v1.Image {
	t.Helper()
	img := randomImage(t)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = os, arch, v1.Time{Time: created}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestResolvePlatform(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	created := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	amd, arm := platformImage(t, "linux", "amd64", created), platformImage(t, "linux", "arm64", created.Add(time.Hour))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	if err := remote.WriteIndex(mustRef(t, host+"/app:multi"), idx); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, host+"/app:single"), amd); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	armDigest, amdDigest := digestOf(t, arm), digestOf(t, amd)

	got, err := ResolvePlatform(context.Background(), mustRef(t, host+"/app:multi"), v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := arm.Manifest()
	size := manifest.Config.Size + manifest.Layers[0].Size
	if got.Digest != armDigest.String() || got.Index != idxDigest.String() || !got.Created.Equal(created.Add(time.Hour)) || got.Size != size ||
		!got.Names(idxDigest.String()) || !got.Names(armDigest.String()) || got.Names(amdDigest.String()) {
		t.Errorf("arm64 of the index: %+v; want %s in %s, created %s, %d bytes", got, armDigest, idxDigest, created.Add(time.Hour), size)
	}
	got, err = ResolvePlatform(context.Background(), mustRef(t, host+"/app:single"), v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil || got.Digest != amdDigest.String() || got.Index != "" {
		t.Errorf("image manifest: %+v, %v", got, err)
	}
	for ref, want := range map[string]string{
		"multi":   "has no linux/s390x image (it has linux/amd64, linux/arm64)",
		"single":  "is a linux/amd64 image, not linux/s390x",
		"missing": "no such image in the registry",
	} {
		_, err := ResolvePlatform(context.Background(), mustRef(t, host+"/app:"+ref), v1.Platform{OS: "linux", Architecture: "s390x"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s for linux/s390x: %v, want %q", ref, err, want)
		}
	}
}

// TestReadErrors: a rate limit and an unreachable registry are said in the
// terms a user acts on.
func TestReadErrors(t *testing.T) {
	host := testutil.MemoryRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/limited/") {
				http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, err := ResolvePlatform(context.Background(), mustRef(t, host+"/limited:1"), v1.Platform{OS: "linux", Architecture: "amd64"})
	if err == nil || !strings.Contains(err.Error(), "rate limited by "+host) {
		t.Errorf("rate limited: %v", err)
	}
	_, err = ListTags(context.Background(), "127.0.0.1:1/app")
	if err == nil || !strings.Contains(err.Error(), "cannot reach 127.0.0.1:1 (offline?)") {
		t.Errorf("unreachable: %v", err)
	}
}
