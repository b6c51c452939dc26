package frontend

import (
	"context"
	"fmt"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
)

// pbRanges are Dockerfile ranges as BuildKit's wire format has them.
func pbRanges(ranges []parser.Range) []*pb.Range {
	out := make([]*pb.Range, 0, len(ranges))
	for _, r := range ranges {
		out = append(out, &pb.Range{
			Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
			End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
		})
	}
	return out
}

// warnOpts make a warning point at Dockerfile lines, as the Dockerfile
// frontend's lint warnings do.
func warnOpts(ranges []parser.Range, detail [][]byte, url string) client.WarnOpts {
	opts := client.WarnOpts{Level: 1, Detail: detail, URL: url}
	if ranges != nil {
		opts.Range = pbRanges(ranges)
	}
	return opts
}

// wrapSource attaches the Dockerfile and the lines an error is about, so
// that clients print the lines as they do for the Dockerfile frontend.
func wrapSource(err error, sm *llb.SourceMap, ranges []parser.Range) error {
	if sm == nil {
		return err
	}
	return errdefs.WithSource(err, &errdefs.Source{Info: sourceInfo(sm), Ranges: pbRanges(ranges)})
}

// sourceInfo is the Dockerfile as BuildKit's wire format carries it with a
// warning or an error, for clients to print the lines.
func sourceInfo(sm *llb.SourceMap) *pb.SourceInfo {
	info := &pb.SourceInfo{Data: sm.Data, Filename: sm.Filename, Language: sm.Language}
	if sm.Definition != nil {
		info.Definition = sm.Definition.ToPB()
	}
	return info
}

// solve marshals st and solves it with req's other fields, returning its
// one result: what, when it fails, names the step.
func solve(ctx context.Context, c client.Client, st llb.State, what string, req client.SolveRequest) (client.Reference, error) {
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", what, err)
	}
	req.Definition = def.ToPB()
	res, err := c.Solve(ctx, req)
	if err != nil {
		return nil, err
	}
	return res.SingleRef()
}
