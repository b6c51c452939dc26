package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Write pushes img to ref: its blobs, then its manifest.
func Write(ctx context.Context, ref name.Reference, img v1.Image) error {
	if err := remote.Write(ref, img, Options(ctx)...); err != nil {
		return writeError(ref.String(), ref.Context(), err)
	}
	return nil
}

// PutManifest pushes the blobs, then the manifest raw of media type
// mediaType, to ref. A manifest with a subject is listed by the registry's
// referrers API; where the registry has none, the subject's referrers tag
// (sha256-<hex>, the OCI distribution spec's tag schema) is updated to list
// it, as go-containerregistry does for every write.
func PutManifest(ctx context.Context, ref name.Reference, raw []byte, mediaType types.MediaType, blobs ...v1.Layer) error {
	opts := Options(ctx)
	for _, b := range blobs {
		if err := remote.WriteLayer(ref.Context(), b, opts...); err != nil {
			return writeError("a blob of "+ref.String(), ref.Context(), err)
		}
	}
	if err := remote.Put(ref, rawManifest{raw, mediaType}, opts...); err != nil {
		return writeError(ref.String(), ref.Context(), err)
	}
	return nil
}

// rawManifest is a manifest as bytes, for remote.Put: go-containerregistry's
// v1.Manifest has no artifactType.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// Referrers lists the manifests whose subject is d: from the registry's
// OCI 1.1 referrers API, or, where it has none, from the referrers tag.
func Referrers(ctx context.Context, d name.Digest) (*v1.IndexManifest, error) {
	idx, err := remote.Referrers(d, Options(ctx)...)
	if err != nil {
		return nil, readError("the referrers of "+d.String(), d.Context(), "no such image in the registry", err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, readError("the referrers of "+d.String(), d.Context(), "no such image in the registry", err)
	}
	return m, nil
}

// NotFound says whether err is a registry's "no such manifest" (or
// repository, or blob).
func NotFound(err error) bool {
	terr, ok := errors.AsType[*transport.Error](err)
	return ok && terr.StatusCode == http.StatusNotFound
}

// writeError says what went wrong writing what to repo's registry: not
// allowed (with the login to try), or the registry's own answer.
func writeError(what string, repo name.Repository, err error) error {
	if terr, ok := errors.AsType[*transport.Error](err); ok && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("push %s: not allowed to write to %s (docker login %s?): %w", what, repo, repo.RegistryStr(), err)
	}
	return fmt.Errorf("push %s: %w", what, err)
}
