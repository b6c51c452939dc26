package frontend

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"
)

// startBuild starts the build of the final stage and returns once the
// files it is sent from this machine (its build context, local named
// contexts) are in the builder. BuildKit fetches every source of a solve at
// once: solved together with the build, the scan step's scanner and
// database images share the session with the build context and the base
// image on a cold builder, and delay the build's own start. Asked for once
// the context is in (the base image's layers come beside it), they load
// while the build's steps run. A failure here is the build's: the scan
// step, which needs the same vertices, fails with it, so the solve started
// here is not waited for.
func startBuild(ctx context.Context, c client.Client, final llb.State, cacheImports []client.CacheOptionsEntry) error {
	def, err := final.Marshal(ctx)
	if err != nil {
		return fmt.Errorf("marshal the final stage: %w", err)
	}
	go c.Solve(ctx, client.SolveRequest{Definition: def.ToPB(), Evaluate: true, CacheImports: cacheImports})
	locals, err := localSources(def.ToPB())
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, st := range locals {
		g.Go(func() error {
			d, err := st.Marshal(ctx)
			if err != nil {
				return err
			}
			_, err = c.Solve(ctx, client.SolveRequest{Definition: d.ToPB(), Evaluate: true, CacheImports: cacheImports})
			return err
		})
	}
	return g.Wait()
}

// localSources are the local sources of a definition (files this machine
// sends), each as a state of the definition's own op: the same vertex as in
// the build.
func localSources(def *pb.Definition) ([]llb.State, error) {
	var out []llb.State
	for _, dt := range def.Def {
		op := new(pb.Op)
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("read the final stage's definition: %w", err)
		}
		id := op.GetSource().GetIdentifier()
		if !strings.HasPrefix(id, "local://") {
			continue
		}
		st, err := stateAt(def, &pb.Input{Digest: string(digest.FromBytes(dt)), Index: 0})
		if err != nil {
			return nil, fmt.Errorf("source %s of the final stage: %w", id, err)
		}
		out = append(out, st)
	}
	return out, nil
}
