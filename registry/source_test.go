package registry

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/secure-build/secure-build/internal/testutil"
)

func randomImage(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkOpens opens source and checks it is want.
func checkOpens(t *testing.T, source string, want v1.Image) {
	t.Helper()
	img, err := Open(context.Background(), source)
	if err != nil {
		t.Fatalf("Open(%s): %v", source, err)
	}
	if got := digestOf(t, img); got != digestOf(t, want) {
		t.Errorf("Open(%s) gave image %s, want %s", source, got, digestOf(t, want))
	}
}

// checkFails opens each source and checks the error says what is wanted.
func checkFails(t *testing.T, errs map[string]string) {
	t.Helper()
	for source, want := range errs {
		if _, err := Open(context.Background(), source); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s): %v, want an error containing %q", source, err, want)
		}
	}
}

// writeLayout writes imgs into a new OCI layout, each with its ref name
// annotation unless its name starts with "untagged".
func writeLayout(t *testing.T, imgs map[string]v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for n, img := range imgs {
		var opts []layout.Option
		if !strings.HasPrefix(n, "untagged") {
			opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": n}))
		}
		if err := p.AppendImage(img, opts...); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// platformIndex is an index as BuildKit exports it: an attestation manifest
// first, then an image for another architecture and one for this machine's.
func platformIndex(t testing.TB) (idx v1.ImageIndex, here, elsewhere v1.Image, otherArch string) {
	t.Helper()
	here, elsewhere = randomImage(t), randomImage(t)
	otherArch = "s390x"
	if runtime.GOARCH == otherArch {
		otherArch = "amd64"
	}
	idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: randomImage(t), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
		mutate.IndexAddendum{Add: elsewhere, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: here, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	return idx, here, elsewhere, otherArch
}

func TestOpenOCILayout(t *testing.T) {
	v1Image, v2Image := randomImage(t), randomImage(t)
	dir := writeLayout(t, map[string]v1.Image{"v1": v1Image, "example.com/app:v2": v2Image})
	checkOpens(t, OCILayoutPrefix+dir+":v1", v1Image)
	// A full reference name matches by its tag.
	checkOpens(t, OCILayoutPrefix+dir+":v2", v2Image)
	checkOpens(t, OCILayoutPrefix+dir+"@"+digestOf(t, v1Image).String(), v1Image)
	checkFails(t, map[string]string{
		OCILayoutPrefix + dir:                                        "holds 2 images: name one as oci-layout:" + dir + ":TAG or oci-layout:" + dir + "@DIGEST",
		OCILayoutPrefix + dir + ":v3":                                `no image tagged "v3"`,
		OCILayoutPrefix + dir + "@sha256:" + strings.Repeat("0", 64): "has no manifest sha256:000",
		OCILayoutPrefix + filepath.Join(t.TempDir(), "none"):         "open OCI layout",
	})

	// One untagged image needs no tag; two are ambiguous.
	checkOpens(t, OCILayoutPrefix+writeLayout(t, map[string]v1.Image{"untagged": v2Image}), v2Image)
	checkFails(t, map[string]string{
		OCILayoutPrefix + writeLayout(t, map[string]v1.Image{"untagged1": v1Image, "untagged2": v2Image}): "holds 2 images: name one as oci-layout:",
	})
}

// TestOpenOCIIndex: a tag naming a multi-platform index takes the image for
// this machine's architecture, skipping attestation manifests.
func TestOpenOCIIndex(t *testing.T) {
	idx, here, elsewhere, otherArch := platformIndex(t)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, OCILayoutPrefix+dir+":multi", here)

	// An index with no image for this machine names what it has.
	dir = filepath.Join(t.TempDir(), "layout")
	if p, err = layout.Write(dir, empty.Index); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: elsewhere, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}})); err != nil {
		t.Fatal(err)
	}
	checkFails(t, map[string]string{OCILayoutPrefix + dir: "linux/" + otherArch})
}

func TestOpenDockerArchive(t *testing.T) {
	img := randomImage(t)
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, name.MustParseReference("example.com/app:v1"), img); err != nil {
		t.Fatal(err)
	}
	got, err := Open(context.Background(), DockerArchivePrefix+archive)
	if err != nil {
		t.Fatal(err)
	}
	// The archive keeps the config and the layers, not the manifest's bytes.
	gotConfig, err := got.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if wantConfig, _ := img.ConfigName(); gotConfig != wantConfig {
		t.Errorf("config %s, want %s", gotConfig, wantConfig)
	}
	checkFails(t, map[string]string{DockerArchivePrefix + filepath.Join(t.TempDir(), "missing.tar"): "open docker archive"})
}

func TestOpenRegistry(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	single := randomImage(t)
	if err := remote.Write(mustRef(t, host+"/single:1"), single); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, RegistryPrefix+host+"/single:1", single)

	idx, here, elsewhere, _ := platformIndex(t)
	if err := remote.WriteIndex(mustRef(t, host+"/multi:1"), idx); err != nil {
		t.Fatal(err)
	}
	checkOpens(t, RegistryPrefix+host+"/multi:1", here)
	// Another platform's image, by its digest.
	checkOpens(t, RegistryPrefix+host+"/multi@"+digestOf(t, elsewhere).String(), elsewhere)

	checkFails(t, map[string]string{
		RegistryPrefix + host + "/missing:1": host + "/missing:1: no such image in the registry",
		RegistryPrefix + "Not A Reference":   `image reference "Not A Reference"`,
	})
}

func TestOpenRegistryErrors(t *testing.T) {
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
	checkFails(t, map[string]string{
		RegistryPrefix + host + "/broken:1":  "read " + host + "/broken:1 from the registry: GET http://" + host + "/v2/broken/manifests/1: unexpected status code 500",
		RegistryPrefix + host + "/private:1": host + "/private:1: not allowed to read it (docker login " + host + "?)",
	})
}

func TestIsSource(t *testing.T) {
	for target, want := range map[string]bool{
		"registry:app:1":         true,
		"oci-layout:./layout":    true,
		"docker-archive:app.tar": true,
		"./rootfs":               false,
		"sbom:app.spdx.json":     false,
		"registry":               false,
	} {
		if got := IsSource(target); got != want {
			t.Errorf("IsSource(%q) = %v, want %v", target, got, want)
		}
	}
	checkFails(t, map[string]string{"./rootfs": `"./rootfs" is not an image source`})
}

func TestIsLocal(t *testing.T) {
	file, _ := ociTar(t)
	layoutDir := writeLayout(t, map[string]v1.Image{"v1": randomImage(t)})
	for target, want := range map[string]bool{
		file:                               true,
		layoutDir:                          true,
		"oci-layout:" + layoutDir + ":v1":  true,
		"docker-archive:app.tar":           true,
		t.TempDir():                        false, // a folder, but no OCI layout
		"registry.example.com/app:1":       false,
		filepath.Join(t.TempDir(), "none"): false,
	} {
		if got := IsLocal(target); got != want {
			t.Errorf("IsLocal(%q) = %v, want %v", target, got, want)
		}
	}
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
