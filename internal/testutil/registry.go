// Package testutil is the harness the unit and end-to-end tests share:
// registries, builders and base images they run against. Ordinary files, so
// every package's tests can import it; nothing else does.
package testutil

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// MemoryRegistry serves go-containerregistry's in-memory registry, with the
// OCI 1.1 referrers API, on loopback, through wrap when given (to make it
// fail or watch its requests). It returns the registry's host:port. The test
// gets an empty Docker config, so no credentials of the machine are used.
func MemoryRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// RequestCount counts the requests a MemoryRegistry serves: pass its Wrap.
type RequestCount struct{ n atomic.Int64 }

// Wrap serves h, counting each request.
func (c *RequestCount) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// Count is how many requests were served since the last Reset.
func (c *RequestCount) Count() int64 { return c.n.Load() }

// Reset starts the count again.
func (c *RequestCount) Reset() { c.n.Store(0) }

// PushFiles pushes an image of one layer of files as ref (HOST/repo:tag)
// and returns its digest.
func PushFiles(t testing.TB, ref string, files map[string]string) string {
	t.Helper()
	img := Image(t, v1.Config{}, FilesLayer(t, files))
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
