package frontend

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/patternmatcher"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil/types"

	"github.com/secure-build/secure-build/dockerfile"
	"github.com/secure-build/secure-build/policy"
)

const (
	// PolicyContext is the named context a policy file comes from when it
	// is not the build context's own secure-build.yaml.
	PolicyContext = "secure-build-policy"
	// ArgPolicy names the policy file inside that context (or the build
	// context), secure-build.yaml when not given.
	ArgPolicy = "SECURE_BUILD_POLICY"
)

// loadPolicy reads the build's policy: the file ArgPolicy names (default
// secure-build.yaml) from the named context secure-build-policy, else from
// the root of the build context; with neither, the defaults. It is never
// read from the stages being built, or an image could carry a policy that
// ignores everything. The VEX documents the file names are read from the
// same context, or fetched when they are URLs.
func loadPolicy(ctx context.Context, c client.Client, bc *dockerui.Client, src *dockerui.Source, buildPlatform ocispecs.Platform) (*policy.Policy, error) {
	name := policy.FileName
	explicit := false
	if v := bc.BuildArgs[ArgPolicy]; v != "" {
		name, explicit = path.Clean(strings.TrimPrefix(v, "/")), true
	}
	files, err := policyFiles(ctx, c, bc, buildPlatform, name)
	if err != nil {
		return nil, err
	}
	data, ok, err := files.read(ctx, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		if explicit || files.named {
			return nil, fmt.Errorf("policy file %s not found in %s", name, files.where)
		}
		// A .dockerignore that keeps only some folders hides the file:
		// the build would run on the defaults without a word.
		if hidden, err := dockerignored(ctx, bc, name); err != nil {
			return nil, err
		} else if hidden {
			src.Warn(ctx, fmt.Sprintf("the build context's .dockerignore excludes %s: if the project has one, it is not read and the default policy applies; add !%s to .dockerignore, or pass it with --policy", name, name), client.WarnOpts{Level: 1})
		}
		return policy.Defaults(), nil
	}
	p, err := policy.Parse(name, data)
	if err != nil {
		return nil, err
	}
	for _, ref := range p.VEX {
		data, err := files.vex(ctx, path.Dir(name), ref)
		if err != nil {
			return nil, err
		}
		if err := p.AddVEX(ref, data); err != nil {
			return nil, fmt.Errorf("policy %s: %w", name, err)
		}
	}
	return p, nil
}

// policySource reads the policy's files from one context.
type policySource struct {
	c      client.Client
	bc     *dockerui.Client
	named  bool
	where  string
	loaded client.Reference // the named context, whole
}

func policyFiles(ctx context.Context, c client.Client, bc *dockerui.Client, buildPlatform ocispecs.Platform, name string) (*policySource, error) {
	st, err := namedContext(ctx, bc, PolicyContext, buildPlatform)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", PolicyContext, err)
	}
	if st == nil {
		return &policySource{c: c, bc: bc, where: "the build context"}, nil
	}
	ref, err := solve(ctx, c, *st, "the policy context", client.SolveRequest{})
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", PolicyContext, err)
	}
	return &policySource{c: c, bc: bc, named: true, where: "the build context " + PolicyContext, loaded: ref}, nil
}

// read reads one file; ok is false when it does not exist. From the build
// context only that file is sent, not the whole context again.
func (s *policySource) read(ctx context.Context, name string) (data []byte, ok bool, err error) {
	ref := s.loaded
	if ref == nil {
		// Its own shared key: under the build context's, this narrow sync
		// would replace the context BuildKit keeps between builds, and the
		// build would send the whole context again. FollowPaths spares the
		// walk of the whole context.
		st, err := s.bc.MainContext(ctx, llb.IncludePatterns([]string{name}), llb.FollowPaths([]string{name}),
			llb.SharedKeyHint("secure-build-policy-file"), llb.WithCustomName("[secure-build] load the policy file"))
		if err != nil {
			return nil, false, fmt.Errorf("policy file %s: %w", name, err)
		}
		if ref, err = solve(ctx, s.c, *st, "the policy file", client.SolveRequest{}); err != nil {
			return nil, false, fmt.Errorf("policy file %s: %w", name, err)
		}
	}
	if ref == nil { // an empty context
		return nil, false, nil
	}
	entries, err := ref.ReadDir(ctx, client.ReadDirRequest{Path: path.Dir(name), IncludePattern: path.Base(name)})
	if err != nil && path.Dir(name) != "." {
		return nil, false, nil // its folder is not there
	}
	if err != nil {
		return nil, false, fmt.Errorf("list %s for policy file %s: %w", s.where, name, err)
	}
	if !hasRegularFile(entries, path.Base(name)) {
		return nil, false, nil
	}
	data, err = ref.ReadFile(ctx, client.ReadRequest{Filename: name})
	if err != nil {
		return nil, false, fmt.Errorf("read policy file %s from %s: %w", name, s.where, err)
	}
	return data, true, nil
}

// dockerignored says whether the build context's .dockerignore excludes
// name.
func dockerignored(ctx context.Context, bc *dockerui.Client, name string) (bool, error) {
	patterns, err := bc.DockerIgnorePatterns(ctx)
	if err != nil || len(patterns) == 0 {
		return false, err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return false, fmt.Errorf(".dockerignore: %w", err)
	}
	return pm.MatchesOrParentMatches(name)
}

func hasRegularFile(entries []*types.Stat, name string) bool {
	for _, e := range entries {
		// fsutil's mode is Go's os.FileMode.
		if e.Path == name && os.FileMode(e.Mode).IsRegular() {
			return true
		}
	}
	return false
}

// vex reads a VEX document the policy names: a URL through BuildKit's HTTP
// source, else a path relative to the policy file in the same context,
// which must stay inside it.
func (s *policySource) vex(ctx context.Context, dir, ref string) ([]byte, error) {
	if strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
		st := llb.HTTP(ref, llb.Filename("vex.json"), llb.WithCustomNamef("[secure-build] fetch the VEX document %s", ref))
		r, err := solve(ctx, s.c, st, "the VEX document "+ref, client.SolveRequest{})
		if err != nil {
			return nil, fmt.Errorf("VEX document %s: %w", ref, err)
		}
		data, err := r.ReadFile(ctx, client.ReadRequest{Filename: "vex.json"})
		if err != nil {
			return nil, fmt.Errorf("VEX document %s: %w", ref, err)
		}
		return data, nil
	}
	rel, err := policy.VEXPath(ref)
	if err != nil {
		return nil, fmt.Errorf("VEX document %s: %w", ref, err)
	}
	p := path.Join(dir, rel)
	data, ok, err := s.read(ctx, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("VEX document %s: %s not found in %s", ref, p, s.where)
	}
	return data, nil
}

// dockerfileFacts reads what the practices need for one platform: from the
// Dockerfile, the final stage for this build's target, its base image once
// build args, platform args and named contexts apply, and the lines that
// install build tools or upgrade the distribution; from the solved configs,
// the base image's creation time and the final image's user.
func dockerfileFacts(bc *dockerui.Client, src *dockerui.Source, target, build ocispecs.Platform, df *dockerfile2llb.Result) (*policy.BuildFacts, *dockerfileLines, error) {
	name := "Dockerfile"
	if src.SourceMap != nil && src.SourceMap.Filename != "" {
		name = src.SourceMap.Filename
	}
	in := dockerfileInput(bc, target, build)
	facts, err := dockerfile.Read(name, src.Data, in)
	if err != nil {
		return nil, nil, err
	}
	if df.BaseImage != nil {
		facts.Base.Created = df.BaseImage.Created
	}
	if df.Image != nil {
		facts.User = df.Image.Config.User
	}
	stages, err := dockerfile.Chain(name, src.Data, in)
	if err != nil {
		return nil, nil, err
	}
	lines := &dockerfileLines{name: name, lines: strings.Split(string(src.Data), "\n"), stages: stages, base: facts.Base}
	return facts, lines, nil
}

// dockerfileInput is what decides what the Dockerfile's FROM lines name on
// this build, for one target platform.
func dockerfileInput(bc *dockerui.Client, target, build ocispecs.Platform) dockerfile.Input {
	contexts := map[string]string{}
	for k, v := range bc.BuildOpts().Opts {
		name, ok := strings.CutPrefix(k, "context:")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "::") // a per-platform context
		contexts[name] = v
	}
	return dockerfile.Input{
		Target:        bc.Target,
		BuildArgs:     bc.BuildArgs,
		PlatformArgs:  platformArgs(target, build),
		NamedContexts: contexts,
	}
}

// platformArgs are BuildKit's automatic platform ARGs.
func platformArgs(target, build ocispecs.Platform) map[string]string {
	return map[string]string{
		"TARGETPLATFORM": platforms.Format(target), "TARGETOS": target.OS, "TARGETARCH": target.Architecture, "TARGETVARIANT": target.Variant,
		"BUILDPLATFORM": platforms.Format(build), "BUILDOS": build.OS, "BUILDARCH": build.Architecture, "BUILDVARIANT": build.Variant,
	}
}

// warnRules shows the broken rules as BuildKit warnings: the Dockerfile's
// with their line, as lint checks are shown. Each shows once, whatever the
// number of platforms.
func warnRules(ctx context.Context, wv *warnVertex, src *dockerui.Source, scan PlatformScan, shown map[string]bool) {
	for _, v := range scan.Report.Verdict.Violations {
		msg := fmt.Sprintf("%s: %s", v.Rule, v.Message)
		if v.Action == policy.Fail {
			msg += " (fails the build)"
		}
		if v.Line > 0 {
			// As the Dockerfile frontend's checks say it, for clients that
			// do not print the source lines.
			msg += fmt.Sprintf(" (line %d)", v.Line)
		}
		if v.Line == 0 {
			msg = scan.Platform + ": " + msg
		}
		if shown[msg] {
			continue
		}
		shown[msg] = true
		if v.Line > 0 {
			loc := []parser.Range{{Start: parser.Position{Line: v.Line}, End: parser.Position{Line: v.Line}}}
			wv.warnAt(ctx, src, msg, warnOpts(loc, nil, ""))
			continue
		}
		wv.warn(ctx, msg, client.WarnOpts{Level: 1})
	}
	for _, n := range scan.Report.Verdict.Notes {
		msg := scan.Platform + ": " + n
		if !shown[msg] {
			shown[msg] = true
			wv.warn(ctx, msg, client.WarnOpts{Level: 1})
		}
	}
}

// withOverrides applies the build args that override the policy file, as
// the plugin's flags do.
func withOverrides(p *policy.Policy, s settings) *policy.Policy {
	q := *p
	if s.failOn != nil {
		q.Threshold.FailOn = *s.failOn
	}
	if s.onlyFixable != nil {
		q.Threshold.OnlyFixable = *s.onlyFixable
	}
	if s.incomplete != nil {
		q.Incomplete = *s.incomplete
	}
	return &q
}
