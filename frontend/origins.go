package frontend

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/dockerfile"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/scanstep"
	"github.com/secure-build/secure-build/vuln"
)

// dockerfileLines is what names a state's origin on this build: the
// Dockerfile as it is now (a cached scan step holds state indices only, so
// an edit that moves lines shows the new ones), the stages of the final
// stage's chain and its base.
type dockerfileLines struct {
	name   string
	lines  []string
	stages []dockerfile.Stage
	base   policy.BaseImage
	// baseDigest is what the base resolved to when its source op does not
	// say (a named context given as docker-image://REF).
	baseDigest string
}

// attribute gives each finding the origins of its package's locations.
func attribute(findings []vuln.Finding, res scanstep.Result, chain buildChain, df *dockerfileLines) []vuln.Finding {
	if chain.off {
		return findings
	}
	if chain.unknown != "" {
		out := slices.Clone(findings)
		for i := range out {
			out[i].Package.Origins = []origin.Origin{{Kind: origin.Unknown, Reason: "the final stage's chain could not be read: " + chain.unknown}}
		}
		return out
	}
	if res.States == 0 || df == nil {
		return findings
	}
	byState := map[int]origin.Origin{}
	attr := origin.Attribution{}
	for _, so := range res.Origins {
		o, ok := byState[so.State]
		if !ok {
			o = chain.origin(so.State, df)
			if so.State >= 0 {
				byState[so.State] = o
			}
		}
		if so.State < 0 {
			o = origin.Origin{Kind: origin.Unknown, Reason: so.Reason}
		}
		attr[origin.Key{PURL: so.PURL, Location: so.Location}] = o
	}
	out := slices.Clone(findings)
	for i := range out {
		out[i].Package.Origins = attr.Of(out[i].Package.PURL, out[i].Package.Locations)
	}
	return out
}

// origin names state i of the chain: the base, or the instruction whose op
// made it.
func (b buildChain) origin(i int, df *dockerfileLines) origin.Origin {
	if i < 0 || i >= len(b.states) || b.states[i] == nil {
		return origin.Origin{Kind: origin.Unknown, Reason: fmt.Sprintf("no state %d in the final stage's chain", i)}
	}
	if i == 0 {
		return df.baseOrigin(b.states[0])
	}
	o := df.instruction(b.def, b.states[i])
	if folded := b.folded[i]; len(folded) > 0 && o.Kind == origin.Instruction {
		// The earliest instructions share the first state kept: say the span.
		first := df.instruction(b.def, &folded[0])
		if first.StartLine > 0 {
			o.Instruction = fmt.Sprintf("%d instructions from line %d to %d", len(folded)+1, first.StartLine, o.EndLine)
			o.StartLine = first.StartLine
			o.Approximate = true
		}
	}
	return o
}

func (df *dockerfileLines) text(start, end int) string {
	if start < 1 || end < start || end > len(df.lines) {
		return ""
	}
	return strings.Join(df.lines[start-1:end], "\n")
}

func (df *dockerfileLines) baseOrigin(l *link) origin.Origin {
	o := origin.Origin{Kind: origin.Base, File: df.name, StartLine: df.base.Line, EndLine: df.base.Line, Instruction: df.text(df.base.Line, df.base.Line)}
	scheme, ref, dgst := sourceRef(l.source())
	switch scheme {
	case "docker-image", "oci-layout":
		o.Image, o.Digest = df.base.Name, cmp.Or(dgst, df.baseDigest)
		if o.Image == "" {
			o.Image = ref
		}
	default:
		// A named context of files (local, git, http) stands in for the base.
		o.Image = "context " + cmp.Or(df.base.Context, l.source())
	}
	return o
}

// instruction names the Dockerfile instruction an op was made from. An op
// shared by several stages has a range in each: the one in the final
// stage's chain is the one built on this chain.
func (df *dockerfileLines) instruction(def *pb.Definition, l *link) origin.Origin {
	var ranges [][2]int
	for _, loc := range l.locs {
		infos := def.GetSource().GetInfos()
		if int(loc.SourceIndex) >= len(infos) || infos[loc.SourceIndex].GetFilename() != df.name {
			continue
		}
		start, end := pbSpan(loc.Ranges)
		if start > 0 {
			ranges = append(ranges, [2]int{start, end})
		}
	}
	for _, st := range df.stages {
		for _, ins := range st.Instructions {
			for _, r := range ranges {
				if r[0] == ins.Start {
					return origin.Origin{Kind: origin.Instruction, File: df.name, StartLine: ins.Start, EndLine: ins.End,
						Instruction: df.text(ins.Start, ins.End), Stage: st.Name, CopiedFrom: ins.CopiedFrom}
				}
			}
		}
		for _, r := range ranges {
			if r[0] == st.FromLine {
				// An ONBUILD trigger of the image the stage is FROM runs at
				// its FROM line.
				return origin.Origin{Kind: origin.Instruction, File: df.name, StartLine: r[0], EndLine: r[1],
					Instruction: "ONBUILD trigger of " + df.text(r[0], r[1]), Stage: st.Name}
			}
		}
	}
	if len(ranges) > 0 {
		r := ranges[0]
		return origin.Origin{Kind: origin.Instruction, File: df.name, StartLine: r[0], EndLine: r[1], Instruction: df.text(r[0], r[1])}
	}
	return origin.Origin{Kind: origin.Unknown, Reason: "no Dockerfile line made this state of the final stage"}
}

func pbSpan(ranges []*pb.Range) (start, end int) {
	for _, r := range ranges {
		s, e := int(r.GetStart().GetLine()), int(r.GetEnd().GetLine())
		if start == 0 || s < start {
			start = s
		}
		end = max(end, e)
	}
	return start, end
}

// resolveBaseDigest is the digest of a base image the chain's source op
// does not pin: a named context given as docker-image://REF. The resolver
// has usually resolved it already for the build.
func resolveBaseDigest(ctx context.Context, c client.Client, chain buildChain, p ocispecs.Platform) (string, error) {
	if len(chain.states) == 0 || chain.states[0] == nil {
		return "", nil
	}
	scheme, ref, dgst := sourceRef(chain.states[0].source())
	if scheme != "docker-image" || dgst != "" {
		return dgst, nil
	}
	_, d, _, err := c.ResolveImageConfig(ctx, ref, sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p}})
	if err != nil {
		return "", fmt.Errorf("resolve the base image %s: %w", ref, err)
	}
	return d.String(), nil
}

// annotateBase names the final stage's external base image on the
// platform's manifest, with the OCI annotations Docker Scout and the image
// spec read: the name as the FROM line gives it (normalized, tag kept) and
// the digest it resolved to. A stage FROM scratch or a context of files
// has no base image to name. platform is nil for a one-platform build,
// whose manifest the exporter annotates without a platform key.
func annotateBase(rb *dockerui.ResultBuilder, platform *ocispecs.Platform, df *dockerfileLines) {
	if df == nil || df.base.Scratch || df.base.Ref == "" || df.baseDigest == "" {
		return
	}
	if platform != nil && platform.OS == "windows" {
		// Its platform key (with an OS version) is not one an annotation
		// key can hold.
		return
	}
	name := df.base.Ref
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		name = reference.TrimNamed(named).String()
		if tagged, ok := named.(reference.Tagged); ok {
			name += ":" + tagged.Tag()
		} else if _, pinned := named.(reference.Digested); !pinned {
			name += ":latest"
		}
	}
	rb.AddMeta(exptypes.AnnotationManifestKey(platform, ocispecs.AnnotationBaseImageName), []byte(name))
	rb.AddMeta(exptypes.AnnotationManifestKey(platform, ocispecs.AnnotationBaseImageDigest), []byte(df.baseDigest))
}
