package frontend

import (
	"context"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// warnVertex is the vertex that carries a platform's scan warnings (the
// findings, their suppressions, the broken rules), reported to the client
// once before the warnings and once after them.
//
// Why not the scan step's own vertex: BuildKit's progress display (progressui,
// used by buildctl and buildx) files a warning under its vertex without
// marking the vertex updated (util/progress/progressui/display.go, the
// s.Warnings loop of trace.update, next to the statuses and logs that do set
// t.updates), so the plain printer writes a vertex's warnings only when it
// prints that vertex again (printer.go, printVtx). The warnings are sent
// after the step completed, once its output was read and the policy
// applied: when the step ran, its DONE was printed long before and its
// warnings never were; when it was cached, they came within the display's
// rate limit of its CACHED line and were printed with it, by luck.
//
// A gateway frontend cannot report a solver vertex again, but the source
// metadata resolver reports a vertex of its own on every call, named with
// its LogName and with the digest of the source identifier and platform
// (solver/llbsolver/bridge.go resolveSourceMetadata, solver.go
// inBuilderContext). For a local source it does no work at all (the
// worker's ResolveSourceMetadata returns the op as it is), so two calls
// bracket the warnings.
type warnVertex struct {
	c        client.Client
	source   string // the local source's identifier
	opt      sourceresolver.Opt
	platform string
	// digest is the vertex the warnings go to: step, the scan step's,
	// when the resolver could not report one.
	digest digest.Digest
	step   digest.Digest
}

// openWarnVertex reports the vertex of a platform's scan warnings. Where
// that cannot be done (a BuildKit without the source metadata resolver),
// they go to the scan step's vertex, step, as before: the clients that list
// a build's warnings at its end (buildx, the plugin) still show them.
func openWarnVertex(ctx context.Context, c client.Client, platform string, p ocispecs.Platform, step digest.Digest) *warnVertex {
	p = platforms.Normalize(p)
	name := "secure-build-scan-warnings"
	w := &warnVertex{
		c:        c,
		source:   "local://" + name,
		platform: platform,
		step:     step,
		opt: sourceresolver.Opt{
			LogName: "[secure-build " + platform + "] scan warnings",
			// The platform is part of the vertex's digest, so that each
			// platform's warnings have their own vertex.
			ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p},
		},
	}
	w.digest = step
	caps := c.BuildOpts().Caps
	if caps.Supports(gwpb.CapSourceMetaResolver) == nil && w.report(ctx) {
		w.digest = digest.FromBytes([]byte(w.source + platforms.FormatAll(p)))
	}
	return w
}

func (w *warnVertex) report(ctx context.Context) bool {
	// The resolver may rewrite the op it is given: a new one each time.
	_, err := w.c.ResolveSourceMetadata(ctx, &pb.SourceOp{Identifier: w.source}, w.opt)
	return err == nil
}

// warn sends a warning on the vertex.
func (w *warnVertex) warn(ctx context.Context, msg string, opts client.WarnOpts) {
	if w.digest == "" {
		return
	}
	if opts.Level == 0 {
		opts.Level = 1
	}
	// A client that cannot show a warning still gets the verdict.
	_ = w.c.Warn(ctx, w.digest, msg, opts)
}

// warnAt sends a warning about lines of the Dockerfile, with the
// Dockerfile, as the Dockerfile frontend's lint warnings are sent.
func (w *warnVertex) warnAt(ctx context.Context, src *dockerui.Source, msg string, opts client.WarnOpts) {
	if src != nil && src.SourceMap != nil && opts.SourceInfo == nil {
		opts.SourceInfo = sourceInfo(src.SourceMap)
	}
	w.warn(ctx, msg, opts)
}

// close reports the vertex again, after its warnings: that is what makes
// the clients print them.
func (w *warnVertex) close(ctx context.Context) {
	if w.digest != "" && w.digest != w.step {
		w.report(ctx)
	}
}
