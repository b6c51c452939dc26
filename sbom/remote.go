package sbom

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RegistryPrefix names an image in a registry as a target: "registry:REF",
// REF as docker pull takes it (a tag or a digest). Explicit, like the other
// prefixes, so that a folder is never mistaken for an image name.
const RegistryPrefix = "registry:"

// RegistryOptions are how every registry read goes: with the credentials of
// the Docker config and its credential helpers (what "docker login" stored),
// and stopped with ctx. Plain HTTP is go-containerregistry's rule: tried for
// localhost, loopback addresses, *.local names and private (RFC 1918)
// addresses, never for any other registry.
func RegistryOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// openRegistryImage opens REF in its registry. A multi-platform index gives
// the linux image of this machine's architecture, as for an OCI layout;
// name another platform's image by its digest.
func openRegistryImage(ctx context.Context, ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	desc, err := remote.Get(r, RegistryOptions(ctx)...)
	if err != nil {
		return nil, RegistryError(r, err)
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", r, err)
		}
		return imageForThisPlatform(idx, "index "+r.String())
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", r, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("%s is a %s, neither an image nor an index", r, desc.MediaType)
}

// RegistryError says what went wrong reading ref from its registry in the
// terms a user acts on: no such image, or not allowed to read it.
func RegistryError(ref name.Reference, err error) error {
	if terr, ok := errors.AsType[*transport.Error](err); ok {
		switch terr.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%s: no such image in the registry: %w", ref, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: not allowed to read it (docker login %s?): %w", ref, ref.Context().RegistryStr(), err)
		}
	}
	return fmt.Errorf("read %s from the registry: %w", ref, err)
}
