package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// registry is a real OCI registry (go-containerregistry's pkg/registry, blobs
// in memory) served over plain HTTP on loopback by the test process, for
// buildkitd to pull base images from and push results to.
type registry struct {
	host string // 127.0.0.1:PORT

	mu       sync.Mutex
	requests []registryRequest // every request served, in order
	log      bytes.Buffer      // the registry's own log, shown when the test fails
}

// registryRequest is one request the registry answered.
type registryRequest struct {
	method, path string
	status       int
}

func (r registryRequest) String() string {
	return fmt.Sprintf("%s %s %d", r.method, r.path, r.status)
}

// startRegistry serves a fresh, empty registry on 127.0.0.1 at a random port
// until the test ends.
func startRegistry(t *testing.T) *registry {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("registry: listen on 127.0.0.1: %v", err)
	}
	r := &registry{host: ln.Addr().String()}
	handler := ggcrregistry.New(ggcrregistry.Logger(log.New(lockedWriter{&r.mu, &r.log}, "", log.Ltime|log.Lmicroseconds)))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			handler.ServeHTTP(sw, req)
			r.mu.Lock()
			r.requests = append(r.requests, registryRequest{req.Method, req.URL.Path, sw.status})
			r.mu.Unlock()
		}),
		ReadHeaderTimeout: 30 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// Close, not Shutdown: a buildkitd still pulling must not hold the
		// test up; it has been stopped already (its cleanup runs first when
		// it was started after the registry).
		if err := srv.Close(); err != nil {
			t.Logf("registry %s: close: %v", r.host, err)
		}
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("registry %s: serve: %v", r.host, err)
		}
		if t.Failed() {
			r.mu.Lock()
			t.Logf("registry %s log:\n%s", r.host, r.log.String())
			r.mu.Unlock()
		}
	})
	return r
}

// lockedWriter serializes writes of the registry's logger with the readers
// of its buffer.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// statusWriter remembers the status code a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// writes are the requests that tried to store something in a repository
// (blob uploads, manifest puts, deletes), whatever their outcome: empty when a
// build pushed nothing at all there, not even a blob before failing.
func (r *registry) writes(repo string) []registryRequest {
	prefix := "/v2/" + repo + "/"
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []registryRequest
	for _, req := range r.requests {
		if req.method != http.MethodGet && req.method != http.MethodHead && strings.HasPrefix(req.path, prefix) {
			out = append(out, req)
		}
	}
	return out
}

// repository parses "repo" as a repository of this registry.
func (r *registry) repository(t *testing.T, repo string) name.Repository {
	t.Helper()
	rp, err := name.NewRepository(r.host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatalf("repository %q: %v", repo, err)
	}
	return rp
}

// tags lists the tags of a repository through the registry API, sorted; nil
// when the registry has no manifest in that repository.
func (r *registry) tags(t *testing.T, repo string) []string {
	t.Helper()
	tags, err := remote.List(r.repository(t, repo), remote.WithContext(t.Context()))
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("list tags of %s/%s: %v", r.host, repo, err)
	}
	return tags
}

// hasTag reports whether repo:tag names a manifest.
func (r *registry) hasTag(t *testing.T, repo, tag string) bool {
	t.Helper()
	for _, have := range r.tags(t, repo) {
		if have == tag {
			return true
		}
	}
	return false
}

// pushedImage is an image buildkitd pushed to a registry.
type pushedImage struct {
	ref    string // HOST/repo:tag, for FROM and for readImage
	digest string // the pushed manifest's (or index's) digest, sha256:...
}

// pinned is ref@digest.
func (p pushedImage) pinned() string { return p.ref + "@" + p.digest }

// pushBusyboxBase builds the busybox-static base of busyboxBase and pushes it
// to reg as repoTag ("base:1"), one single-platform image manifest.
func (bk *buildkit) pushBusyboxBase(t *testing.T, reg *registry, repoTag, osRelease string) pushedImage {
	t.Helper()
	ctx := bk.busyboxContext(t, osRelease)
	return bk.pushImage(t, reg, repoTag, ctx, ctx)
}

// debianBaseDockerfile copies the debootstrap root into an image FROM
// scratch; its .dockerignore, read next to it, leaves out what a Debian image
// does not carry (device nodes, downloaded .debs, the scripts' marker).
const (
	debianBaseDockerfile   = "FROM scratch\nCOPY / /\n"
	debianBaseDockerignore = "dev/*\nproc/*\nsys/*\nvar/cache/apt/archives/*.deb\n.secure-build-complete\n"
)

// pushDebianBase pushes the debootstrap root of SECURE_BUILD_TEST_ROOTFS to
// reg as repoTag ("debian:12"). The root is the build context itself and the
// Dockerfile lives in a folder of its own, so nothing is copied beforehand.
func (bk *buildkit) pushDebianBase(t *testing.T, reg *registry, repoTag string) pushedImage {
	t.Helper()
	root := testRootfs(t)
	dir, err := os.MkdirTemp(bk.dir, "debian")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(debianBaseDockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile.dockerignore"), []byte(debianBaseDockerignore), 0o644); err != nil {
		t.Fatal(err)
	}
	// Level 1 gzip: still the usual gzip layer, made in about half the time of
	// the default level for this 170 MB root.
	return bk.pushImage(t, reg, repoTag, root, dir, "compression=gzip", "compression-level=1")
}

// pushImage builds the Dockerfile in dockerfileDir with contextDir as its
// context and pushes the result to reg as repoTag; exportOpts are more
// options of the image exporter ("compression=zstd").
func (bk *buildkit) pushImage(t *testing.T, reg *registry, repoTag, contextDir, dockerfileDir string, exportOpts ...string) pushedImage {
	t.Helper()
	tag, err := name.NewTag(reg.host+"/"+repoTag, name.StrictValidation, name.Insecure)
	if err != nil {
		t.Fatalf("push %q: want repo:tag: %v", repoTag, err)
	}
	metadata := filepath.Join(t.TempDir(), "metadata.json")
	bk.build(t,
		"--frontend", "dockerfile.v0",
		"--local", "context="+contextDir, "--local", "dockerfile="+dockerfileDir,
		"--output", strings.Join(append([]string{"type=image", "name=" + tag.String(), "push=true", "registry.insecure=true"}, exportOpts...), ","),
		"--metadata-file", metadata,
	)
	b, err := os.ReadFile(metadata)
	if err != nil {
		t.Fatalf("push %s: buildctl metadata: %v", tag, err)
	}
	var md struct {
		Digest string `json:"containerimage.digest"`
	}
	if err := json.Unmarshal(b, &md); err != nil || !strings.HasPrefix(md.Digest, "sha256:") {
		t.Fatalf("push %s: buildctl metadata names no containerimage.digest (%v):\n%s", tag, err, b)
	}
	return pushedImage{ref: tag.String(), digest: md.Digest}
}

// Annotations BuildKit puts on an attestation manifest's index entry and
// layers.
const (
	annotationReferenceType   = "vnd.docker.reference.type"
	annotationReferenceDigest = "vnd.docker.reference.digest"
	referenceTypeAttestation  = "attestation-manifest"
	annotationPredicateType   = "in-toto.io/predicate-type"
)

// imageInfo is an image as read back from a registry, the way docker buildx
// imagetools inspect shows it. Platforms are "os/arch[/variant]".
type imageInfo struct {
	ref       string
	digest    string            // of what ref names: the index, or the single manifest
	mediaType types.MediaType   // of what ref names
	index     *v1.IndexManifest // nil when ref names a single image manifest
	// images maps a platform to its image manifest's digest.
	images map[string]string
	// attestationManifests maps a platform to the digest of the attestation
	// manifest that refers to its image manifest.
	attestationManifests map[string]string
	// attestationLayers are all the layers of a platform's attestation
	// manifest, in order.
	attestationLayers map[string][]attestationLayer
	// attestations maps platform, then predicate type, to the statement: the
	// first layer of that type, when there are several (SBOMs of several
	// stages).
	attestations map[string]map[string]inTotoStatement
}

// attestationLayer is one layer of an attestation manifest.
type attestationLayer struct {
	digest      string
	mediaType   types.MediaType
	annotations map[string]string
	statement   inTotoStatement
}

// inTotoStatement is an in-toto statement as BuildKit writes it.
type inTotoStatement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []inTotoSubject `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

type inTotoSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// readImage reads ref ("HOST/repo:tag" or "...@sha256:...") from a registry
// over plain HTTP: the index (or single manifest), each platform's image
// manifest digest, and each platform's attestation manifest with its in-toto
// statements. It fails the test on anything it cannot read or pair up.
func readImage(t *testing.T, ref string) imageInfo {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("readImage %q: %v", ref, err)
	}
	opts := []remote.Option{remote.WithContext(t.Context())}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		t.Fatalf("readImage %s: %v", ref, err)
	}
	info := imageInfo{
		ref:                  ref,
		digest:               desc.Digest.String(),
		mediaType:            desc.MediaType,
		images:               map[string]string{},
		attestationManifests: map[string]string{},
		attestationLayers:    map[string][]attestationLayer{},
		attestations:         map[string]map[string]inTotoStatement{},
	}
	if desc.MediaType.IsImage() {
		img, err := desc.Image()
		if err != nil {
			t.Fatalf("readImage %s: %v", ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatalf("readImage %s: config: %v", ref, err)
		}
		info.images[platformString(cfg.Platform())] = info.digest
		return info
	}
	if !desc.MediaType.IsIndex() {
		t.Fatalf("readImage %s: media type %s is neither an image manifest nor an index", ref, desc.MediaType)
	}
	index, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		t.Fatalf("readImage %s: index: %v", ref, err)
	}
	info.index = index

	// Image manifests first, so that attestations can be paired with them
	// whatever the order of the index.
	platformOf := map[string]string{} // image manifest digest → platform
	var attestationEntries []v1.Descriptor
	for _, m := range index.Manifests {
		if m.Annotations[annotationReferenceType] == referenceTypeAttestation {
			attestationEntries = append(attestationEntries, m)
			continue
		}
		if m.Platform == nil {
			t.Fatalf("readImage %s: index entry %s has no platform and is no attestation manifest:\n%s", ref, m.Digest, desc.Manifest)
		}
		p := platformString(m.Platform)
		if prev, dup := info.images[p]; dup {
			t.Fatalf("readImage %s: two image manifests for %s: %s and %s", ref, p, prev, m.Digest)
		}
		info.images[p] = m.Digest.String()
		platformOf[m.Digest.String()] = p
	}
	for _, m := range attestationEntries {
		subject := m.Annotations[annotationReferenceDigest]
		p, ok := platformOf[subject]
		if !ok {
			t.Fatalf("readImage %s: attestation manifest %s refers to %q, no image manifest of the index:\n%s", ref, m.Digest, subject, desc.Manifest)
		}
		if prev, dup := info.attestationManifests[p]; dup {
			t.Fatalf("readImage %s: two attestation manifests for %s: %s and %s", ref, p, prev, m.Digest)
		}
		info.attestationManifests[p] = m.Digest.String()
		layers := readAttestationManifest(t, r.Context().Digest(m.Digest.String()), opts)
		info.attestationLayers[p] = layers
		byType := map[string]inTotoStatement{}
		for _, l := range layers {
			pt := l.annotations[annotationPredicateType]
			if pt == "" {
				pt = l.statement.PredicateType
			}
			if _, seen := byType[pt]; !seen {
				byType[pt] = l.statement
			}
		}
		info.attestations[p] = byType
	}
	return info
}

// readAttestationManifest reads the in-toto statement of each layer of an
// attestation manifest.
func readAttestationManifest(t *testing.T, d name.Digest, opts []remote.Option) []attestationLayer {
	t.Helper()
	img, err := remote.Image(d, opts...)
	if err != nil {
		t.Fatalf("attestation manifest %s: %v", d, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatalf("attestation manifest %s: %v", d, err)
	}
	var layers []attestationLayer
	for _, l := range m.Layers {
		// The blob as stored: in-toto layers are plain JSON, never compressed.
		layer, err := remote.Layer(d.Context().Digest(l.Digest.String()), opts...)
		if err != nil {
			t.Fatalf("attestation manifest %s: layer %s: %v", d, l.Digest, err)
		}
		body, err := layer.Compressed()
		if err != nil {
			t.Fatalf("attestation manifest %s: layer %s: %v", d, l.Digest, err)
		}
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Fatalf("attestation manifest %s: read layer %s: %v", d, l.Digest, err)
		}
		var st inTotoStatement
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("attestation manifest %s: layer %s (%s) is no in-toto statement: %v", d, l.Digest, l.MediaType, err)
		}
		layers = append(layers, attestationLayer{
			digest:      l.Digest.String(),
			mediaType:   l.MediaType,
			annotations: l.Annotations,
			statement:   st,
		})
	}
	return layers
}

// platformString is "os/arch" or "os/arch/variant", the keys of imageInfo.
func platformString(p *v1.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
