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
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
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
