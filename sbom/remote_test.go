package sbom

import (
	"context"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCatalogTargetRegistry(t *testing.T) {
	isolateTemp(t)
	host := testutil.MemoryRegistry(t, nil)
	ctx := context.Background()

	marker := "secure-build-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	single := mustRef(t, host+"/single:1")
	if err := remote.Write(single, hostileImage(t, marker), remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	s, err := CatalogTarget(ctx, RegistryPrefix+single.String())
	if err != nil {
		t.Fatal(err)
	}
	checkHostileImageCatalog(t, s)
	if s.Source != RegistryPrefix+single.String() {
		t.Errorf("source %q, want the target as given", s.Source)
	}

	here := image(t, layer(t, file("srv/node_modules/here/package.json", npmPackage("here", "1.0.0"))))
	elsewhere := image(t, layer(t, file("srv/node_modules/elsewhere/package.json", npmPackage("elsewhere", "1.0.0"))))
	otherArch := "s390x"
	if runtime.GOARCH == otherArch {
		otherArch = "amd64"
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: elsewhere, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: here, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	multi := mustRef(t, host+"/multi:1")
	if err := remote.WriteIndex(multi, idx, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	s, err = CatalogTarget(ctx, RegistryPrefix+multi.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := purls(s); !slices.Equal(got, []string{"pkg:npm/here@1.0.0"}) {
		t.Errorf("index: got %q, want the linux/%s image's package", got, runtime.GOARCH)
	}
	// Another platform's image, by its digest.
	d, err := elsewhere.Digest()
	if err != nil {
		t.Fatal(err)
	}
	s, err = CatalogTarget(ctx, RegistryPrefix+host+"/multi@"+d.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := purls(s); !slices.Equal(got, []string{"pkg:npm/elsewhere@1.0.0"}) {
		t.Errorf("by digest: got %q, want the linux/%s image's package", got, otherArch)
	}

	for target, want := range map[string]string{
		RegistryPrefix + host + "/missing:1": "no such image in the registry",
		RegistryPrefix + "Not A Reference":   "image reference",
	} {
		if _, err := CatalogTarget(ctx, target); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error saying %q", target, err, want)
		}
	}
}

func TestCatalogTargetRegistryErrors(t *testing.T) {
	isolateTemp(t)
	host := testutil.MemoryRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.Contains(r.URL.Path, "/broken/manifests/"):
				http.Error(w, "storage failed", http.StatusInternalServerError)
			case strings.Contains(r.URL.Path, "/private/"):
				http.Error(w, `{"errors":[{"code":"DENIED","message":"no"}]}`, http.StatusForbidden)
			default:
				h.ServeHTTP(w, r)
			}
		})
	})
	for target, want := range map[string]string{
		host + "/broken:1":  "500",
		host + "/private:1": "not allowed to read it",
	} {
		_, err := CatalogTarget(context.Background(), RegistryPrefix+target)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), target) {
			t.Errorf("%s: got %v, want an error naming it and saying %q", target, err, want)
		}
	}
}
