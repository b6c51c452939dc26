package frontend

import (
	"context"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// recommendHint says where the fuller base advice is: a gateway frontend
// can resolve a tag but cannot list a repository's tags.
const recommendHint = "run 'docker secure recommend -f Dockerfile' for the tags that fix the base's findings (listing a repository's tags needs the client)"

// refreshNote is the frontend image's base advice: whether the tag of a
// base pinned by digest now names another image, which BuildKit can
// resolve, and where to get the rest. The plugin gives its own, fuller
// advice (baseimage/), so only the frontend image says this. "" when the
// base is no registry image.
func refreshNote(ctx context.Context, c client.Client, df *dockerfileLines, p ocispecs.Platform) string {
	if df == nil || df.base.Ref == "" || df.baseDigest == "" {
		return ""
	}
	named, err := reference.ParseNormalizedNamed(df.base.Ref)
	if err != nil {
		return ""
	}
	tagged, isTagged := named.(reference.Tagged)
	if !df.base.Digest || !isTagged {
		// A tag alone was resolved for this very build: it is current.
		return "base " + df.base.Name + ": " + recommendHint
	}
	tag := reference.TrimNamed(named).String() + ":" + tagged.Tag()
	_, current, _, err := c.ResolveImageConfig(ctx, tag, sourceresolver.Opt{
		LogName:  "[secure-build] resolve the base's tag " + tag,
		ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p, ResolveMode: "pull"},
	})
	switch {
	case err != nil:
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return "base " + df.base.Name + ": refresh not checked: " + msg
	case current.String() != df.baseDigest:
		return "base " + df.base.Name + ": refresh available: " + tag + " now names " + current.String() + ", the build pins " + df.baseDigest + "; " + recommendHint
	}
	return ""
}
