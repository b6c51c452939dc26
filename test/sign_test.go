package test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

const cosignPassword = "test-password"

// cosignKeyPair makes a key pair with cosign generate-key-pair in a folder of
// its own and returns the private and public key files.
func cosignKeyPair(t *testing.T, cosign string) (private, public string) {
	t.Helper()
	dir := t.TempDir()
	r := testutil.Run(t, []string{"COSIGN_PASSWORD=" + cosignPassword}, "sh", "-c", "cd "+dir+" && exec "+cosign+" generate-key-pair")
	if r.Code != 0 {
		t.Fatalf("cosign generate-key-pair: exit %d\n%s", r.Code, r.Stderr)
	}
	return filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
}

// verifyAttestation runs cosign verify-attestation offline with a key; the
// legacy flag makes it read the sha256-<digest>.att tag instead of bundles.
func verifyAttestation(t *testing.T, cosign, pub, predicateType, ref string, legacy bool) result {
	t.Helper()
	args := []string{"verify-attestation", "--key", pub, "--type", predicateType, "--insecure-ignore-tlog"}
	if legacy {
		args = append(args, "--new-bundle-format=false")
	}
	return runCmd(t, []string{"DOCKER_CONFIG=" + t.TempDir()}, cosign, append(args, ref)...)
}

// TestSignCosign: an image built with --push --sign-key has its scan result
// and SBOM verified by cosign itself, from the Sigstore bundle referrers and
// from the .att tag, by the platform's digest and by the index's; another
// key and a tampered statement are rejected; the registry's referrers list
// holds the bundles and BuildKit's attestation manifest; inspect names the
// signer; docker secure verify --key passes it and refuses the unsigned,
// the wrongly signed and the tampered.
func TestSignCosign(t *testing.T) {
	t.Parallel()
	cosign := testutil.CosignBinary(t)
	e := newBuildEnv(t)
	private, public := cosignKeyPair(t, cosign)
	_, otherPublic := cosignKeyPair(t, cosign)
	dir := e.project(t, "FROM {{base}}\nCOPY minimist.json /app/node_modules/minimist/package.json\n",
		map[string]string{"minimist.json": npmPackage("minimist", "1.2.6")})
	ref := e.reg.Ref("app:1")
	env := []string{"BUILDKIT_HOST=" + e.bk.Addr, "XDG_CACHE_HOME=" + e.cache, "COSIGN_PASSWORD=" + cosignPassword, "DOCKER_CONFIG=" + t.TempDir()}
	r := runCmd(t, env, binary, "build", "--progress", "plain", "--db", e.db, "-t", ref, "--push", "--sign-key", private, dir)
	if r.Code != 0 || !strings.Contains(r.Stderr, "signed linux/") {
		t.Fatalf("build --push --sign-key: exit %d\n%s", r.Code, r.Stderr)
	}
	info := attested.ReadImage(t, ref)
	if len(info.Images) != 1 {
		t.Fatalf("images %v: want one platform", info.Images)
	}
	var platform, manifest string
	for platform, manifest = range info.Images {
	}
	pinned := strings.TrimSuffix(ref, ":1") + "@" + manifest
	index := strings.TrimSuffix(ref, ":1") + "@" + info.Digest

	for _, c := range []struct {
		ref    string
		legacy bool
	}{{pinned, false}, {pinned, true}, {index, false}, {index, true}} {
		for _, typ := range []string{"vuln", "spdxjson"} {
			if r := verifyAttestation(t, cosign, public, typ, c.ref, c.legacy); r.Code != 0 {
				t.Errorf("cosign verify-attestation --type %s (legacy .att: %v) %s: exit %d\n%s", typ, c.legacy, c.ref, r.Code, r.Stderr)
			}
		}
		if r := verifyAttestation(t, cosign, otherPublic, "vuln", c.ref, c.legacy); r.Code == 0 {
			t.Errorf("cosign verify-attestation with another key (legacy .att: %v) %s passed", c.legacy, c.ref)
		}
	}

	// The referrers list has the bundles and BuildKit's attestation manifest.
	d, err := name.NewDigest(pinned)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(d)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var bundles []string
	hasAttestationManifest := false
	for _, m := range refs.Manifests {
		if m.Annotations["dev.sigstore.bundle.predicateType"] != "" {
			bundles = append(bundles, m.Annotations["dev.sigstore.bundle.predicateType"])
		}
		hasAttestationManifest = hasAttestationManifest || m.Digest.String() == info.AttestationManifests[platform]
	}
	slices.Sort(bundles)
	if !slices.Equal(bundles, []string{attest.VulnPredicateType, attest.SPDXPredicateType}) || !hasAttestationManifest {
		t.Errorf("referrers of %s: bundles %q, attestation manifest %s listed: %v; want the SBOM and scan bundles and it\n%+v",
			pinned, bundles, info.AttestationManifests[platform], hasAttestationManifest, refs.Manifests)
	}

	noKey := []string{"DOCKER_CONFIG=" + t.TempDir()}
	r = runCmd(t, noKey, binary, "inspect", "--key", public, ref)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Signed: "+attest.VulnPredicateType+" by "+public) || !strings.Contains(r.Stdout, "(verified)") {
		t.Errorf("inspect --key: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCmd(t, noKey, binary, "verify", "--db", e.db, "--key", public, "--require-signed", ref)
	if r.Code != 0 {
		t.Errorf("verify --key on the signed image: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCmd(t, noKey, binary, "verify", "--db", e.db, "--key", otherPublic, ref)
	if r.Code != 2 || !strings.Contains(r.Stderr, "the vulnerability scan statement") || !strings.Contains(r.Stderr, otherPublic) || !strings.Contains(r.Stderr, "docker secure attest") {
		t.Errorf("verify --key with another key: exit %d, want 2 naming the statement, the key and what to do\n%s", r.Code, r.Stderr)
	}
	r = runCmd(t, noKey, binary, "verify", "--db", e.db, "--require-signed", ref)
	if r.Code != 2 || !strings.Contains(r.Stderr, "--key") {
		t.Errorf("verify --require-signed without --key: exit %d, want 2 asking for --key\n%s", r.Code, r.Stderr)
	}

	// Unsigned: the same build pushed without --sign-key.
	unsigned := e.reg.Ref("unsigned:1")
	if r := runCmd(t, env, binary, "build", "--progress", "plain", "--db", e.db, "-t", unsigned, "--push", dir); r.Code != 0 {
		t.Fatalf("build --push: exit %d\n%s", r.Code, r.Stderr)
	}
	r = runCmd(t, noKey, binary, "verify", "--db", e.db, "--key", public, unsigned)
	if r.Code != 2 || !strings.Contains(r.Stderr, "is not signed") || !strings.Contains(r.Stderr, "docker secure attest") {
		t.Errorf("verify --key on an unsigned image: exit %d, want 2 saying it is not signed\n%s", r.Code, r.Stderr)
	}

	// Tampered: an index in the same repository with the same image
	// manifest and an SBOM changed after signing.
	tampered := e.reg.Ref("app:tampered")
	pushTampered(t, ref, tampered)
	r = runCmd(t, noKey, binary, "verify", "--db", e.db, "--key", public, tampered)
	if r.Code != 2 || !strings.Contains(r.Stderr, "the SPDX SBOM statement") || !strings.Contains(r.Stderr, "differs from the one signed") {
		t.Errorf("verify --key on a tampered SBOM: exit %d, want 2 naming the SBOM\n%s", r.Code, r.Stderr)
	}

	// A tampered statement in the .att tag: cosign rejects it.
	tamperAttTag(t, d)
	if r := verifyAttestation(t, cosign, public, "vuln", pinned, true); r.Code == 0 {
		t.Errorf("cosign verify-attestation of a tampered .att passed\n%s", r.Stdout)
	}
}

// pushTampered pushes to dst the index of src with its attestation manifest
// replaced by one whose SPDX statement names another package: the image
// manifest, and so the signatures found for it, stay the same.
func pushTampered(t *testing.T, src, dst string) {
	t.Helper()
	idx, err := remote.Index(mustRef(t, src))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.IndexAddendum
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if m.Annotations[attest.AnnotationReferenceType] == attest.ReferenceTypeAttestation {
			img = tamperedAttestations(t, img)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: m.Platform, Annotations: m.Annotations}})
	}
	out := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	if err := remote.WriteIndex(mustRef(t, dst), out); err != nil {
		t.Fatal(err)
	}
}

func tamperedAttestations(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.Addendum
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		// As bytes: BuildKit's artifact manifest has an empty config, no
		// diff ids for go-containerregistry to pair its layers with.
		b := readLayer(t, layer)
		if l.Annotations[attest.AnnotationPredicateType] == attest.SPDXPredicateType {
			changed := strings.Replace(string(b), `"name":"minimist"`, `"name":"not-minimist"`, 1)
			if changed == string(b) {
				t.Fatalf("the SPDX statement names no minimist:\n%.500s", b)
			}
			b = []byte(changed)
		}
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(b, l.MediaType), MediaType: l.MediaType, Annotations: l.Annotations})
	}
	out, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), adds...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tamperAttTag rewrites d's cosign attestation tag with each envelope's
// statement changed and its signature kept.
func tamperAttTag(t *testing.T, d name.Digest) {
	t.Helper()
	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".att")
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.Addendum
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			PayloadType string            `json:"payloadType"`
			Payload     string            `json:"payload"`
			Signatures  []json.RawMessage `json:"signatures"`
		}
		if err := json.Unmarshal(readLayer(t, layer), &env); err != nil {
			t.Fatal(err)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		env.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"predicate":{`, `"predicate":{"tampered":true,`, 1)))
		b, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(b, l.MediaType), MediaType: l.MediaType, Annotations: l.Annotations})
	}
	out, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), adds...)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, out); err != nil {
		t.Fatal(err)
	}
}

func readLayer(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSignReferrersTagFallback: on Debian's docker-registry (CNCF
// distribution 2.8, no referrers API), "docker secure attest" of a pushed
// image lists the bundles and BuildKit's attestation manifest in the
// referrers tag (sha256-<hex>), as the OCI distribution spec says; cosign
// verifies from the bundles and from the .att tag, and so does verify --key.
func TestSignReferrersTagFallback(t *testing.T) {
	t.Parallel()
	cosign := testutil.CosignBinary(t)
	dist := testutil.DistributionRegistry(t)
	e := newBuildEnv(t)
	private, public := cosignKeyPair(t, cosign)
	dir := e.project(t, "FROM {{base}}\nCOPY minimist.json /app/node_modules/minimist/package.json\n",
		map[string]string{"minimist.json": npmPackage("minimist", "1.2.6")})
	built := e.reg.Ref("app:1")
	if r := e.build(t, dir, "-t", built, "--push"); r.Code != 0 {
		t.Fatalf("build --push: exit %d\n%s", r.Code, r.Stderr)
	}
	// Copied as crane copy would: the BuildKit-pushed index, unchanged.
	src, err := remote.Index(mustRef(t, built))
	if err != nil {
		t.Fatal(err)
	}
	ref := dist + "/app:1"
	if err := remote.WriteIndex(mustRef(t, ref), src); err != nil {
		t.Fatalf("copy to docker-registry: %v", err)
	}
	env := []string{"COSIGN_PASSWORD=" + cosignPassword, "DOCKER_CONFIG=" + t.TempDir()}
	r := runCmd(t, env, binary, "attest", "--key", private, ref)
	if r.Code != 0 {
		t.Fatalf("attest: exit %d\n%s", r.Code, r.Stderr)
	}
	info := attested.ReadImage(t, ref)
	var platform, manifest string
	for platform, manifest = range info.Images {
	}
	tags, err := remote.List(mustRef(t, ref).Context())
	if err != nil {
		t.Fatal(err)
	}
	fallback := strings.Replace(manifest, ":", "-", 1)
	if !slices.Contains(tags, fallback) || !slices.Contains(tags, fallback+".att") {
		t.Fatalf("tags %q: want the referrers tag %s and cosign's %s.att", tags, fallback, fallback)
	}
	// The referrers tag is an index of the bundles and the attestation manifest.
	fb, err := remote.Index(mustRef(t, dist+"/app:"+fallback))
	if err != nil {
		t.Fatal(err)
	}
	fm, err := fb.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var artifactTypes []string
	for _, m := range fm.Manifests {
		artifactTypes = append(artifactTypes, m.ArtifactType)
	}
	slices.Sort(artifactTypes)
	want := []string{"application/vnd.dev.sigstore.bundle.v0.3+json", "application/vnd.dev.sigstore.bundle.v0.3+json", "application/vnd.docker.attestation.manifest.v1+json"}
	if !slices.Equal(artifactTypes, want) {
		t.Errorf("referrers tag %s of %s lists %q, want %q", fallback, platform, artifactTypes, want)
	}
	pinned := dist + "/app@" + manifest
	for _, legacy := range []bool{false, true} {
		for _, typ := range []string{"vuln", "spdxjson"} {
			if r := verifyAttestation(t, cosign, public, typ, pinned, legacy); r.Code != 0 {
				t.Errorf("cosign verify-attestation --type %s (legacy .att: %v) on docker-registry: exit %d\n%s", typ, legacy, r.Code, r.Stderr)
			}
		}
	}
	r = runCmd(t, []string{"DOCKER_CONFIG=" + t.TempDir()}, binary, "verify", "--db", e.db, "--key", public, ref)
	if r.Code != 0 {
		t.Errorf("verify --key on docker-registry: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}
