// Package registry reads images where they are kept: in a registry, with the
// credentials "docker login" stored, in an OCI layout or in a docker archive.
// It names the image sources the commands take, opens them into a v1.Image
// and lists a repository's tags; its errors say what was read and what went
// wrong. It knows nothing of what the images hold.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options are how every registry request goes: with the credentials of the
// Docker config and its credential helpers (what "docker login" stored),
// and stopped with ctx. Plain HTTP is go-containerregistry's rule: tried for
// localhost, loopback addresses, *.local names and private (RFC 1918)
// addresses, never for any other registry.
func Options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// Get reads what ref names, an index or an image manifest, from its
// registry.
func Get(ctx context.Context, ref name.Reference) (*remote.Descriptor, error) {
	desc, err := remote.Get(ref, Options(ctx)...)
	if err != nil {
		return nil, readError(ref.String(), ref.Context(), "no such image in the registry", err)
	}
	return desc, nil
}

// Image reads the image ref names from its registry; an index is an error.
func Image(ctx context.Context, ref name.Reference) (v1.Image, error) {
	img, err := remote.Image(ref, Options(ctx)...)
	if err != nil {
		return nil, readError(ref.String(), ref.Context(), "no such image in the registry", err)
	}
	return img, nil
}

// ListTags lists the tags of repo ("registry.example.com/team/app"), every
// page of them, in the registry's order.
func ListTags(ctx context.Context, repo string) ([]string, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repo, err)
	}
	tags, err := remote.List(r, Options(ctx)...)
	if err != nil {
		return nil, readError("the tags of "+r.String(), r, "no such repository in the registry", err)
	}
	return tags, nil
}

// readError says what went wrong reading what from repo's registry in the
// terms a user acts on: it is not there (missing says what), or not allowed
// to read it; else the registry's own answer.
func readError(what string, repo name.Repository, missing string, err error) error {
	if terr, ok := errors.AsType[*transport.Error](err); ok {
		switch terr.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%s: %s: %w", what, missing, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: not allowed to read it (docker login %s?): %w", what, repo.RegistryStr(), err)
		case http.StatusTooManyRequests:
			return fmt.Errorf("%s: rate limited by %s (try again later, or docker login for a higher limit): %w", what, repo.RegistryStr(), err)
		}
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return fmt.Errorf("%s: cannot reach %s (offline?): %w", what, repo.RegistryStr(), err)
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return fmt.Errorf("%s: cannot reach %s (offline?): %w", what, repo.RegistryStr(), err)
	}
	return fmt.Errorf("read %s from the registry: %w", what, err)
}
