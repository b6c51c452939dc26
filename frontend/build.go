// Package frontend is secure-build's build function. It builds a Dockerfile
// the way BuildKit's Dockerfile frontend does, by driving the same upstream
// code, scans each platform's final stage in a build step that BuildKit
// caches, applies the policy on every build, and either fails the build before
// anything is exported or attaches the SBOM and the scan result as
// attestations. The plugin runs it in-process; the frontend image runs it as
// a gateway frontend.
package frontend

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/convertllb"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/util/bkmaps"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
)

// Options are what the caller of the build function knows and a Dockerfile
// does not.
type Options struct {
	// Scanner is where the scan step's program comes from.
	Scanner Scanner
	// ToolVersion is secure-build's version, named in the attestations.
	ToolVersion string
	// OnScan, when set, is given each platform's scan and verdict before
	// the build function returns, whether the policy passed or not.
	OnScan func(PlatformScan)
	// FullSBOM makes each PlatformScan carry the whole SBOM, for a caller
	// that writes it or a report of it.
	FullSBOM bool
}

// Build returns the build function for client.Build or a gateway frontend.
func Build(opts Options) client.BuildFunc {
	return func(ctx context.Context, c client.Client) (*client.Result, error) {
		return build(ctx, c, opts)
	}
}

const keySyntaxArg = "build-arg:BUILDKIT_SYNTAX"

func build(ctx context.Context, c client.Client, opts Options) (_ *client.Result, err error) {
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	src, err := bc.ReadEntrypoint(ctx, "Dockerfile")
	if err != nil {
		return nil, err
	}
	warnForeignSyntax(ctx, bc, src)
	settings, err := readSettings(bc.BuildArgs)
	if err != nil {
		return nil, err
	}
	scope, err := readScope(bc.BuildArgs)
	if err != nil {
		return nil, err
	}

	convertOpt := dockerfile2llb.ConvertOpt{
		Config:       bc.Config,
		Client:       bc,
		SourceMap:    src.SourceMap,
		MetaResolver: c,
		Warn: func(rule, description, url, msg string, location []parser.Range) {
			line := 0
			if len(location) > 0 {
				line = location[0].Start.Line
			}
			src.Warn(ctx, linter.LintFormatShort(rule, msg, line), warnOpts(location, [][]byte{[]byte(description)}, url))
		},
	}
	// --call outline|targets|check and the like answer as the Dockerfile
	// frontend does, without building or scanning.
	if res, ok, err := bc.HandleSubrequest(ctx, dockerui.RequestHandler{
		Outline: func(ctx context.Context) (*outline.Outline, error) {
			return dockerfile2llb.Dockerfile2Outline(ctx, src.Data, convertOpt)
		},
		ListTargets: func(ctx context.Context) (*targets.List, error) {
			return dockerfile2llb.ListTargets(ctx, src.Data)
		},
		Lint: func(ctx context.Context) (*lint.LintResults, error) {
			return dockerfile2llb.DockerfileLint(ctx, src.Data, convertOpt)
		},
		ConvertLLB: func(ctx context.Context) (*convertllb.Result, error) {
			return dockerfile2llb.DockerfileConvertLLB(ctx, src.Data, convertOpt)
		},
	}); err != nil || ok {
		return res, err
	}

	// Errors with a Dockerfile location point at the line, as upstream's do.
	defer func() {
		var el *parser.LocationError
		if errors.As(err, &el) {
			for _, l := range el.Locations {
				err = wrapSource(err, src.SourceMap, l)
			}
		}
	}()

	buildPlatform := platforms.DefaultSpec()
	if len(bc.BuildPlatforms) > 0 {
		buildPlatform = bc.BuildPlatforms[0]
	}
	// The scan's inputs and the policy are looked up while the Dockerfile
	// is converted: the build starts only when all three are known.
	prep := start(func() (prepared, error) {
		inputs, err := stepInputs(ctx, bc, opts.Scanner, buildPlatform)
		if err != nil {
			return prepared{}, err
		}
		pol, err := loadPolicy(ctx, c, bc, src, buildPlatform)
		if err != nil {
			return prepared{}, err
		}
		return prepared{inputs: inputs, policy: withScope(withOverrides(pol, settings), scope)}, nil
	})

	var scans bkmaps.SyncMap[string, *stepOutput]
	var facts bkmaps.SyncMap[string, *policy.BuildFacts]
	var lines bkmaps.SyncMap[string, *dockerfileLines]
	rb, err := bc.Build(ctx, func(ctx context.Context, platform *ocispecs.Platform, idx int) (*dockerui.BuildResult, error) {
		opt := convertOpt
		opt.BuildArgs = maps.Clone(opt.BuildArgs)
		opt.TargetPlatform = platform
		if idx != 0 {
			opt.Warn = nil // lint warnings once, not once a platform
		}
		dfRes, err := dockerfile2llb.Dockerfile2LLB(ctx, src.Data, opt)
		if err != nil {
			return nil, err
		}
		p, err := prep.wait()
		if err != nil {
			return nil, err
		}
		ref, err := solve(ctx, c, dfRes.State, "the Dockerfile's build", client.SolveRequest{CacheImports: bc.CacheImports})
		if err != nil {
			return nil, err
		}
		target := platforms.DefaultSpec()
		if platform != nil {
			target = *platform
		}
		id := platforms.FormatAll(platforms.Normalize(target))
		// --cache-from serves the scan step too, as it does the stages.
		out, err := runScanStep(ctx, c, p.inputs, id, dfRes, settings, opts.FullSBOM || p.policy.NeedsPackages(), bc.CacheImports)
		if err != nil {
			return nil, err
		}
		scans.Store(id, out)
		f, l, err := dockerfileFacts(bc, src, target, buildPlatform, dfRes)
		if err != nil {
			return nil, err
		}
		if l.baseDigest, err = resolveBaseDigest(ctx, c, out.chain, target); err != nil {
			return nil, err
		}
		facts.Store(id, f)
		lines.Store(id, l)
		return &dockerui.BuildResult{Reference: ref, Image: dfRes.Image, BaseImage: dfRes.BaseImage, Epoch: dfRes.Epoch}, nil
	})
	if err != nil {
		return nil, err
	}

	prepared, err := prep.wait()
	if err != nil {
		return nil, err
	}
	pol := prepared.policy

	var failed bkmaps.SyncMap[string, PlatformScan]
	var shownMu sync.Mutex
	shown := map[string]bool{}
	if err := rb.EachPlatform(ctx, func(ctx context.Context, id string, p ocispecs.Platform) error {
		out, ok := scans.Load(id)
		if !ok {
			return fmt.Errorf("no scan of platform %s", id)
		}
		f, _ := facts.Load(id)
		l, _ := lines.Load(id)
		out.result.Findings = attribute(out.result.Findings, out.result, out.chain, l)
		scan := decide(id, out, settings, pol, f, opts.ToolVersion)
		if opts.Scanner.Self && pol.BaseImage.Refresh != policy.Off {
			if note := refreshNote(ctx, c, l, p); note != "" {
				scan.Report.Verdict.Notes = append(scan.Report.Verdict.Notes, note)
			}
		}
		// The warnings say what the policy said: what OnScan adds to the
		// verdict (the base image advice) the client prints itself.
		warned := scan
		decided := *scan.Report
		warned.Report = &decided
		if opts.OnScan != nil {
			opts.OnScan(scan)
		}
		// The builder makes the scan result while the warnings are sent.
		verdicting := start(func() (client.Reference, error) { return verdictVertex(ctx, c, id, out, scan) })
		// The warnings go to a vertex of their own, reported again after
		// them, so that clients print them (openWarnVertex says why).
		wv := openWarnVertex(ctx, c, id, p, out.vertex)
		warnFindings(ctx, wv, warned, src.SourceMap)
		shownMu.Lock()
		warnRules(ctx, wv, src, warned, shown)
		shownMu.Unlock()
		wv.close(ctx)
		verdict, err := verdicting.wait()
		if err != nil {
			return err
		}
		if !scan.Report.Verdict.Pass {
			failed.Store(id, scan)
			return nil
		}
		if bc.MultiPlatformRequested {
			annotateBase(rb, &p, l)
		} else {
			annotateBase(rb, nil, l)
		}
		return attach(ctx, rb, id, out, scan, verdict)
	}); err != nil {
		return nil, err
	}
	if err := policyError(&failed); err != nil {
		return nil, err
	}
	return rb.Finalize()
}

// warnForeignSyntax says that a "# syntax=" line or BUILDKIT_SYNTAX naming
// another frontend is not followed: the build would need that image from a
// registry, and the scan needs this build function. When this frontend was
// itself reached through such a line, "cmdline" is set and there is
// nothing to say.
func warnForeignSyntax(ctx context.Context, bc *dockerui.Client, src *dockerui.Source) {
	opts := bc.BuildOpts().Opts
	if _, forwarded := opts["cmdline"]; forwarded {
		return
	}
	if syntax, ok := opts[keySyntaxArg]; ok {
		src.Warn(ctx, fmt.Sprintf("BUILDKIT_SYNTAX=%s is not followed: secure-build builds with its bundled Dockerfile frontend (BuildKit's dockerfile2llb) so that it can scan the result", syntax), client.WarnOpts{Level: 1})
		return
	}
	if ref, _, loc, ok := parser.DetectSyntax(src.Data); ok {
		src.Warn(ctx, fmt.Sprintf("# syntax=%s is not followed: secure-build builds with its bundled Dockerfile frontend (BuildKit's dockerfile2llb) so that it can scan the result", ref), warnOpts(loc, nil, ""))
	}
}

// policyError is the error of a build whose policy failed on some platform:
// each failing finding with the version that fixes it.
func policyError(failed *bkmaps.SyncMap[string, PlatformScan]) error {
	var byPlatform []PlatformScan
	failed.Range(func(_ string, s PlatformScan) bool {
		byPlatform = append(byPlatform, s)
		return true
	})
	if len(byPlatform) == 0 {
		return nil
	}
	return &PolicyError{Scans: byPlatform}
}

// PolicyError is a build stopped by the policy, before export. Its message
// is the build's verdict, shown last: each failing finding and rule once.
type PolicyError struct {
	Scans []PlatformScan
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	for i, s := range SortScans(e.Scans) {
		if i > 0 {
			b.WriteString("\n")
		}
		// "policy failed" says FAIL; an INCOMPLETE scan says so.
		status := ""
		if st := s.Report.Verdict.Status(); st != "FAIL" {
			status = ": " + st
		}
		fmt.Fprintf(&b, "secure-build policy failed for %s (%s)%s; nothing was exported:", s.Platform, s.Report.Verdict.Threshold, status)
		for _, r := range failingLines(s.Report.Verdict.Failing) {
			b.WriteString("\n  " + r)
		}
		for _, r := range s.Report.Verdict.RuleReasons() {
			b.WriteString("\n  " + report.Printable(r))
		}
	}
	return b.String()
}

// prepared is what the build looks up beside the Dockerfile's conversion.
type prepared struct {
	inputs inputs
	policy *policy.Policy
}

// future is work running beside its caller.
type future[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// start runs work in the background.
func start[T any](work func() (T, error)) *future[T] {
	f := &future[T]{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.v, f.err = work()
	}()
	return f
}

// wait returns what the work returned, once it has.
func (f *future[T]) wait() (T, error) {
	<-f.done
	return f.v, f.err
}
