package testutil

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry is a real OCI registry (go-containerregistry's, blobs in memory,
// with the OCI 1.1 referrers API) served over plain HTTP on loopback by the test process, for buildkitd and
// dockerd to pull base images from and push results to. It records every
// request, so a test can prove a failed build wrote nothing. A Registry
// shared by tests is split by Namespace: each test's repositories are its
// own, whatever their names.
type Registry struct {
	Addr   string // 127.0.0.1:PORT: what daemons are told to reach over plain HTTP
	prefix string // "NAMESPACE/" of this view, or ""
	srv    *registryServer
}

type registryServer struct {
	http     *http.Server
	served   chan error
	mu       sync.Mutex
	requests []RegistryRequest // every request served, in order; what a failed test shows
	// owners are the tests each namespace was given to: a test run again
	// in the same process (go test -count=2) gets a namespace of its own.
	owners map[string]testing.TB
}

// RegistryRequest is one request the registry answered.
type RegistryRequest struct {
	Method, Path string
	Status       int
}

func (r RegistryRequest) String() string {
	return fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status)
}

// NewRegistry serves a fresh, empty registry on 127.0.0.1 at a random port
// until Close.
func NewRegistry() (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registry: listen on 127.0.0.1: %w", err)
	}
	s := &registryServer{served: make(chan error, 1), owners: map[string]testing.TB{}}
	handler := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true))
	s.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			handler.ServeHTTP(sw, req)
			s.mu.Lock()
			s.requests = append(s.requests, RegistryRequest{req.Method, req.URL.Path, sw.status})
			s.mu.Unlock()
		}),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() { s.served <- s.http.Serve(ln) }()
	return &Registry{Addr: ln.Addr().String(), srv: s}, nil
}

// Close stops serving. Close, not Shutdown: a daemon still pulling must not
// hold the test up.
func (r *Registry) Close() error {
	if err := r.srv.http.Close(); err != nil {
		return fmt.Errorf("registry %s: close: %w", r.Addr, err)
	}
	if err := <-r.srv.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("registry %s: serve: %w", r.Addr, err)
	}
	return nil
}

var notRepoChars = regexp.MustCompile(`[^a-z0-9]+`)

// Namespace is the view of a shared registry that holds the test's own
// repositories: HOST/testname/repo. The requests to them are logged when the
// test fails.
func (r *Registry) Namespace(t testing.TB) *Registry {
	t.Helper()
	ns := r.srv.namespaceFor(t, r.prefix+strings.Trim(notRepoChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-"))
	v := &Registry{Addr: r.Addr, prefix: ns + "/", srv: r.srv}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registry %s requests under %s:\n%s", r.Addr, v.prefix, v.requestsUnder(""))
		}
	})
	return v
}

// namespaceFor is name for t: the same for every call of one test, with a
// number added when another test (the same one run again) holds it.
func (s *registryServer) namespaceFor(t testing.TB, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := name
	for i := 2; ; i++ {
		owner, taken := s.owners[ns]
		if !taken || owner == t {
			s.owners[ns] = t
			return ns
		}
		ns = fmt.Sprintf("%s-%d", name, i)
	}
}

// Ref is the reference of repoTag ("app:1", or "app@sha256:...") in this
// registry (and namespace): HOST/[NAMESPACE/]app:1.
func (r *Registry) Ref(repoTag string) string {
	return r.Addr + "/" + r.prefix + repoTag
}

func (r *Registry) requestsUnder(repo string) []RegistryRequest {
	prefix := "/v2/" + r.prefix + repo
	r.srv.mu.Lock()
	defer r.srv.mu.Unlock()
	var out []RegistryRequest
	for _, req := range r.srv.requests {
		if strings.HasPrefix(req.Path, prefix) {
			out = append(out, req)
		}
	}
	return out
}

// Writes are the requests that tried to store something in a repository
// (blob uploads, manifest puts, deletes), whatever their outcome: empty when a
// build pushed nothing at all there, not even a blob before failing.
func (r *Registry) Writes(repo string) []RegistryRequest {
	var out []RegistryRequest
	for _, req := range r.requestsUnder(repo + "/") {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			out = append(out, req)
		}
	}
	return out
}

// Tags lists the tags of a repository through the registry API, sorted; nil
// when the registry has no manifest in that repository.
func (r *Registry) Tags(t testing.TB, repo string) []string {
	t.Helper()
	rp, err := name.NewRepository(r.Ref(repo), name.Insecure)
	if err != nil {
		t.Fatalf("repository %q: %v", repo, err)
	}
	tags, err := remote.List(rp, remote.WithContext(t.Context()))
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("list tags of %s: %v", rp, err)
	}
	return tags
}

// HasTag reports whether repo:tag names a manifest.
func (r *Registry) HasTag(t testing.TB, repo, tag string) bool {
	t.Helper()
	for _, have := range r.Tags(t, repo) {
		if have == tag {
			return true
		}
	}
	return false
}

// PushedImage is an image in a registry.
type PushedImage struct {
	Ref    string // HOST/repo:tag, for FROM and for ReadImage
	Digest string // the manifest's (or index's) digest, sha256:...
}

// Pinned is Ref@Digest.
func (p PushedImage) Pinned() string { return p.Ref + "@" + p.Digest }

// Push pushes img to the registry as repoTag ("base:1") from the test
// process: no daemon is needed for a base image.
func (r *Registry) Push(t testing.TB, repoTag string, img v1.Image) PushedImage {
	t.Helper()
	tag, err := name.NewTag(r.Ref(repoTag), name.StrictValidation, name.Insecure)
	if err != nil {
		t.Fatalf("push %q: want repo:tag: %v", repoTag, err)
	}
	if err := remote.Write(tag, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return PushedImage{Ref: tag.String(), Digest: d.String()}
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
