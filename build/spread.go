package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/docker/buildx/util/imagetools"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
)

// RequestedPlatforms are the platforms a solve asks for (--platform), in
// order; none when it names none.
func RequestedPlatforms(solve client.SolveOpt) ([]ocispecs.Platform, error) {
	attr := solve.FrontendAttrs["platform"]
	if attr == "" {
		return nil, nil
	}
	var out []ocispecs.Platform
	for _, s := range strings.Split(attr, ",") {
		p, err := platforms.Parse(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("--platform %q: %w", s, err)
		}
		out = append(out, platforms.Normalize(p))
	}
	return out, nil
}

// Spread is a build spread over several nodes of a builder, each node
// building some of the platforms, as docker buildx build spreads it: an
// image pushed is pushed by digest from each node, and the per-node
// images are then joined into one index pushed under the tags.
type Spread struct {
	// pushNames are the tags of the pushed image, comma-separated as the
	// image exporter's name; empty when nothing is pushed.
	pushNames string
}

// NewSpread checks that the outputs can be spread over nodes nodes: as
// buildx, an OCI or Docker tar cannot (each node would write its own), and
// the docker driver builds on one node only; a folder output or a load
// into Docker is not spread here either.
func NewSpread(outputs []Output, nodes int, moby bool) (*Spread, error) {
	if nodes < 2 {
		return nil, nil
	}
	if moby {
		return nil, fmt.Errorf("a build spread over %d nodes cannot run on the docker driver", nodes)
	}
	s := &Spread{}
	for _, o := range outputs {
		switch o.Type {
		case client.ExporterImage:
			if ok, _ := strconv.ParseBool(o.Attrs["push"]); !ok || s.pushNames != "" {
				continue
			}
			if o.Attrs["name"] == "" {
				return nil, fmt.Errorf("--output %q: a push needs a tag (-t or name=)", o.spec)
			}
			s.pushNames = o.Attrs["name"]
		default:
			return nil, fmt.Errorf("--output %q: a build spread over %d nodes (one a platform) can only push (--push, type=image,push=true) or fill the build cache; build one platform at a time for type=%s", o.spec, nodes, o.Type)
		}
	}
	return s, nil
}

// Solve is a node's solve: the platforms it builds, its exports, and, for
// the pushed image, a push by digest to the repositories alone.
func (s *Spread) Solve(solve client.SolveOpt, nodePlatforms []ocispecs.Platform, exports []client.ExportEntry) (client.SolveOpt, error) {
	solve.FrontendAttrs = maps.Clone(solve.FrontendAttrs)
	solve.LocalMounts = maps.Clone(solve.LocalMounts)
	// Each node is sent its own images (ImageInput.AddTo): of its platform.
	solve.OCIStores = maps.Clone(solve.OCIStores)
	if solve.OCIStores == nil {
		solve.OCIStores = map[string]content.Store{}
	}
	if len(nodePlatforms) > 0 {
		solve.FrontendAttrs["platform"] = strings.Join(formatPlatforms(nodePlatforms), ",")
	}
	solve.Exports = slices.Clone(exports)
	if s == nil || s.pushNames == "" {
		return solve, nil
	}
	for i, e := range solve.Exports {
		if e.Type != client.ExporterImage || e.Attrs["name"] != s.pushNames {
			continue
		}
		repos, err := repositories(s.pushNames)
		if err != nil {
			return solve, err
		}
		e.Attrs = maps.Clone(e.Attrs)
		e.Attrs["name"] = repos
		e.Attrs["push-by-digest"] = "true"
		solve.Exports[i] = e
		break
	}
	return solve, nil
}

// Merge joins the nodes' results: the images each node pushed by digest
// become one index pushed under every tag, through buildx's imagetools,
// as docker buildx build merges them. Without a push, the first node's
// result stands for the build.
func (s *Spread) Merge(ctx context.Context, opt imagetools.Opt, resps []*client.SolveResponse) (*client.SolveResponse, error) {
	if s == nil || s.pushNames == "" {
		return resps[0], nil
	}
	names := strings.Split(s.pushNames, ",")
	ref, err := imagetools.ParseLocation(names[0])
	if err != nil {
		return nil, fmt.Errorf("merge the index for %s: %w", names[0], err)
	}
	srcs := make([]*imagetools.Source, 0, len(resps))
	for _, r := range resps {
		enc, ok := r.ExporterResponse[exptypes.ExporterImageDescriptorKey]
		if !ok {
			return nil, fmt.Errorf("merge the index for %s: a node returned no image descriptor", s.pushNames)
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("merge the index for %s: a node's image descriptor: %w", s.pushNames, err)
		}
		var desc ocispecs.Descriptor
		if err := json.Unmarshal(b, &desc); err != nil {
			return nil, fmt.Errorf("merge the index for %s: a node's image descriptor: %w", s.pushNames, err)
		}
		srcs = append(srcs, &imagetools.Source{Desc: desc, Ref: ref})
	}
	dt, desc, _, err := imagetools.New(opt).Combine(ctx, srcs, nil, false, nil)
	if err != nil {
		return nil, fmt.Errorf("merge the index for %s: %w", s.pushNames, err)
	}
	push := imagetools.New(opt)
	for _, n := range names {
		loc, err := imagetools.ParseLocation(n)
		if err != nil {
			return nil, fmt.Errorf("push the index to %s: %w", n, err)
		}
		if err := push.Push(ctx, loc, desc, dt); err != nil {
			return nil, fmt.Errorf("push the index to %s: %w", n, err)
		}
	}
	return &client.SolveResponse{ExporterResponse: map[string]string{exptypes.ExporterImageDigestKey: desc.Digest.String()}}, nil
}

// repositories are the tags' repositories, without tag or digest, as the
// image exporter takes them for a push by digest.
func repositories(names string) (string, error) {
	var out []string
	for n := range strings.SplitSeq(names, ",") {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			return "", fmt.Errorf("tag %q: %w", n, err)
		}
		if !slices.Contains(out, named.Name()) {
			out = append(out, named.Name())
		}
	}
	return strings.Join(out, ","), nil
}

func formatPlatforms(ps []ocispecs.Platform) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = platforms.Format(p)
	}
	return out
}

// FormatPlatforms writes platforms as --platform takes them; none is the
// node's default platform.
func FormatPlatforms(ps []ocispecs.Platform) string {
	if len(ps) == 0 {
		return "its default platform"
	}
	return strings.Join(formatPlatforms(ps), ",")
}

// RunNodes runs n builds at once, one a node, their progress joined on ch,
// which it closes; the first to fail cancels the others, as in buildx.
func RunNodes(ctx context.Context, n int, ch chan *client.SolveStatus, run func(ctx context.Context, i int, ch chan *client.SolveStatus) (*client.SolveResponse, error)) ([]*client.SolveResponse, error) {
	resps := make([]*client.SolveResponse, n)
	eg, egCtx := errgroup.WithContext(ctx)
	var forwarding sync.WaitGroup
	for i := range n {
		// Each build closes its own channel when it ends.
		nodeCh := make(chan *client.SolveStatus)
		forwarding.Go(func() {
			for s := range nodeCh {
				ch <- s
			}
		})
		eg.Go(func() error {
			r, err := run(egCtx, i, nodeCh)
			resps[i] = r
			return err
		})
	}
	err := eg.Wait()
	forwarding.Wait()
	close(ch)
	return resps, err
}
