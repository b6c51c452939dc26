package test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// TestRegistryHarness proves the registry part of the end-to-end harness: a
// loopback registry that a buildkitd pulls a base image (pushed from the
// test process) from and pushes an image index with an attestation manifest
// to, over plain HTTP, and ReadImage reading that index back as imagetools
// inspect would.
func TestRegistryHarness(t *testing.T) {
	t.Parallel()
	reg := registry(t)
	bk := buildKit(t)

	start := time.Now()
	base := reg.Push(t, "base:1", testutil.BusyboxImage(t, "ID=secure-build-test\nVERSION_ID=1\n"))
	t.Logf("busybox base pushed as %s in %s", base.Pinned(), time.Since(start).Round(time.Millisecond))
	if got := reg.Tags(t, "base"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("tags of base = %q, want [1]", got)
	}
	baseInfo := attested.ReadImage(t, base.Ref)
	if baseInfo.Index != nil || baseInfo.Digest != base.Digest || baseInfo.Images["linux/amd64"] != base.Digest {
		t.Errorf("base %s reads back as digest %s, index %v, images %v; want the single linux/amd64 manifest %s",
			base.Ref, baseInfo.Digest, baseInfo.Index != nil, baseInfo.Images, base.Digest)
	}

	ctx := t.TempDir()
	dockerfile := "FROM " + base.Ref + " AS build\nRUN echo hi > /hi\n\nFROM " + base.Ref + "\nCOPY --from=build /hi /hi\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if reg.HasTag(t, "app", "1") || len(reg.Writes("app")) != 0 {
		t.Fatalf("app:1 exists before the build: tags %q, writes %v", reg.Tags(t, "app"), reg.Writes("app"))
	}
	ref := reg.Ref("app:1")
	start = time.Now()
	bk.Build(t,
		"--frontend", "dockerfile.v0",
		"--local", "context="+ctx, "--local", "dockerfile="+ctx,
		"--opt", "attest:provenance=mode=min",
		"--output", "type=image,name="+ref+",push=true,registry.insecure=true",
	)
	t.Logf("2-stage build with provenance pushed in %s", time.Since(start).Round(time.Millisecond))

	info := attested.ReadImage(t, ref)
	if info.Index == nil {
		t.Fatalf("%s is a single manifest (%s), want an index with an attestation manifest", ref, info.MediaType)
	}
	image := info.Images["linux/amd64"]
	if image == "" || len(info.Images) != 1 {
		t.Fatalf("%s platforms = %v, want linux/amd64 only", ref, info.Images)
	}
	if info.AttestationManifests["linux/amd64"] == "" {
		t.Fatalf("%s has no attestation manifest for linux/amd64; index: %+v", ref, info.Index.Manifests)
	}
	prov, ok := info.Attestations["linux/amd64"][attested.PredicateProvenance]
	if !ok {
		var types []string
		for _, l := range info.AttestationLayers["linux/amd64"] {
			types = append(types, l.Annotations[attest.AnnotationPredicateType])
		}
		t.Fatalf("%s linux/amd64 attestations have predicate types %q, want %s", ref, types, attested.PredicateProvenance)
	}
	if prov.PredicateType != attested.PredicateProvenance || !strings.HasPrefix(prov.Type, "https://in-toto.io/Statement/") {
		t.Errorf("provenance statement _type %q predicateType %q", prov.Type, prov.PredicateType)
	}
	if len(prov.Subject) != 1 || "sha256:"+prov.Subject[0].Digest["sha256"] != image {
		t.Errorf("provenance subject = %+v, want the image manifest %s", prov.Subject, image)
	}
	// The base came from the registry: the provenance names it, by digest.
	if !strings.Contains(string(prov.Predicate), strings.TrimPrefix(base.Digest, "sha256:")) {
		t.Errorf("provenance predicate does not name the base %s:\n%s", base.Pinned(), prov.Predicate)
	}

	if got := reg.Tags(t, "never"); got != nil || reg.HasTag(t, "never", "1") || len(reg.Writes("never")) != 0 {
		t.Errorf("repository never pushed to has tags %q, writes %v", got, reg.Writes("never"))
	}
	if len(reg.Writes("app")) == 0 {
		t.Errorf("no writes recorded for the pushed app repository")
	}
}

// TestRegistryHarnessDebianBase pushes the debootstrap root as a base image
// (made in the test process) and runs its dpkg in a build FROM it.
func TestRegistryHarnessDebianBase(t *testing.T) {
	t.Parallel()
	reg := registry(t)
	bk := buildKit(t)

	start := time.Now()
	base := reg.Push(t, "debian:12", testutil.DebianImage(t))
	t.Logf("Debian base pushed as %s in %s", base.Pinned(), time.Since(start).Round(time.Millisecond))

	ctx := t.TempDir()
	// Only the results are exported, not the whole root.
	dockerfile := "FROM " + base.Ref + " AS debian\n" +
		"RUN dpkg-query -W -f '${Package}\\n' base-files > /packages\n" +
		"FROM scratch\nCOPY --from=debian /packages /\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	bk.Build(t,
		"--frontend", "dockerfile.v0",
		"--local", "context="+ctx, "--local", "dockerfile="+ctx,
		"--output", "type=local,dest="+out,
	)
	got, err := os.ReadFile(filepath.Join(out, "packages"))
	if err != nil || strings.TrimSpace(string(got)) != "base-files" {
		t.Errorf("dpkg-query in the Debian base wrote %q (%v), want base-files", got, err)
	}
	info := attested.ReadImage(t, base.Ref)
	if info.Index != nil || info.Images["linux/amd64"] != base.Digest {
		t.Errorf("Debian base reads back as %v (index %v), want the single linux/amd64 manifest %s", info.Images, info.Index != nil, base.Digest)
	}

	// The pushed layer holds the dpkg database but not the device nodes, nor
	// the downloaded .debs, of the debootstrap root.
	r, err := name.ParseReference(base.Pinned(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("read %s: %v", base.Pinned(), err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s has %d layers (%v), want 1", base.Pinned(), len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var status bool
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer of %s: %v", base.Pinned(), err)
		}
		switch {
		case h.Name == "var/lib/dpkg/status":
			status = true
		case h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock,
			strings.HasPrefix(h.Name, "var/cache/apt/archives/") && strings.HasSuffix(h.Name, ".deb"):
			t.Errorf("Debian base layer carries %s", h.Name)
		}
	}
	if !status {
		t.Errorf("Debian base layer has no var/lib/dpkg/status")
	}
}
