package scan

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/origin"
)

// layered is an image of one layer per history entry that makes one;
// an entry with no files makes none.
func layered(t *testing.T, on v1.Image, steps ...struct {
	by    string
	files map[string][]byte
}) v1.Image {
	t.Helper()
	img := on
	for _, s := range steps {
		add := mutate.Addendum{History: v1.History{CreatedBy: s.by, EmptyLayer: s.files == nil}}
		if s.files != nil {
			add.Layer = testutil.FileLayer(t, s.files)
		}
		var err error
		if img, err = mutate.Append(img, add); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

type step = struct {
	by    string
	files map[string][]byte
}

// TestImageFactsBaseAnnotations: the image's own base annotations name the
// base; its layers, read from its registry, say exactly where it ends.
// When the base cannot be read, the boundary is the probable one, still
// named by the annotations; without annotations the history alone guesses.
func TestImageFactsBaseAnnotations(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ctx := context.Background()
	path, body, _ := attesttest.NPMModule("listed", "2.0.1")
	// A base of two layers whose history has no CMD: only its registry
	// can tell where it ends.
	base := layered(t, empty.Image,
		step{"ADD rootfs /", map[string][]byte{"etc/os-release": []byte("ID=debian\n")}},
		step{"COPY node_modules /", map[string][]byte{path: body}},
	)
	baseRef, err := name.ParseReference(host + "/base:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(baseRef, base, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	baseDigest, err := base.Digest()
	if err != nil {
		t.Fatal(err)
	}
	app := layered(t, base, step{`CMD ["sh"]`, nil}, step{"RUN /bin/sh -c make # buildkit", map[string][]byte{"app/bin": []byte("x")}})
	annotated := func(digest string) v1.Image {
		return mutate.Annotations(app, map[string]string{
			ocispecs.AnnotationBaseImageName:   baseRef.String(),
			ocispecs.AnnotationBaseImageDigest: digest,
		}).(v1.Image)
	}

	facts, err := ImageFacts(ctx, annotated(baseDigest.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := facts.Base; b == nil || b.Layers != 2 || b.Approximate || b.Name != baseRef.String() || b.Digest != baseDigest.String() {
		t.Errorf("base read from its registry: %+v, want its 2 layers, exact, named by the annotations", b)
	}
	if len(facts.Layers) != 3 || facts.Layers[2].CreatedBy != "RUN /bin/sh -c make # buildkit" {
		t.Errorf("layers %+v", facts.Layers)
	}

	// A digest the registry does not have: the CMD between the base and
	// the app's layers is the probable boundary.
	gone := "sha256:" + strings.Repeat("0", 64)
	facts, err = ImageFacts(ctx, annotated(gone), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := facts.Base; b == nil || b.Layers != 2 || !b.Approximate || b.Digest != gone {
		t.Errorf("base not readable: %+v, want the probable boundary, named by the annotations", b)
	}

	facts, err = ImageFacts(ctx, app, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := facts.Base; b == nil || b.Layers != 2 || !b.Approximate || b.Name != "" {
		t.Errorf("no annotations: %+v, want the probable boundary, unnamed", b)
	}
}

// TestCatalogAttributedBrokenProvenance: an image whose provenance cannot
// be read is cataloged whole, and every package's origin is unknown with
// why: never the base's.
func TestCatalogAttributedBrokenProvenance(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	path, body, _ := attesttest.NPMModule("minimist", "1.2.5")
	img := layered(t, empty.Image, step{"ADD rootfs /", map[string][]byte{path: body}}, step{`CMD ["sh"]`, nil}, step{"RUN /bin/sh -c x # buildkit", map[string][]byte{"x": []byte("x")}})
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	att, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer([]byte(`{"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {"buildConfig": "not an object"}}`), attest.MediaTypeInToto),
		Annotations: map[string]string{attest.AnnotationPredicateType: attest.ProvenanceV02PredicateType},
	})
	if err != nil {
		t.Fatal(err)
	}
	platform := &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	inner := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platform}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{attest.AnnotationReferenceType: attest.ReferenceTypeAttestation, attest.AnnotationReferenceDigest: digest.String()},
		}},
	)
	inner = mutate.IndexMediaType(inner, types.OCIImageIndex)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(inner); err != nil {
		t.Fatal(err)
	}
	doc, a, err := CatalogAttributed(context.Background(), "oci-layout:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) != 1 {
		t.Fatalf("packages %+v, want minimist", doc.Packages)
	}
	p0 := doc.Packages[0]
	got := a.Of(p0.PURL, p0.Locations)
	if len(got) != 1 || got[0].Kind != origin.Unknown || !strings.Contains(got[0].Reason, "provenance") {
		t.Errorf("origins with a broken provenance: %+v, want unknown, naming the provenance", got)
	}
}
