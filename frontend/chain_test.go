package frontend

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/dockerfile"
)

const testBaseDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// configResolver answers every image with one config, whose ONBUILD
// triggers are onBuild.
type configResolver struct{ onBuild []string }

func (r configResolver) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]},"config":{"OnBuild":[`
	for i, t := range r.onBuild {
		if i > 0 {
			cfg += ","
		}
		cfg += `"` + t + `"`
	}
	cfg += `]}}`
	return ref, digest.Digest(testBaseDigest), []byte(cfg), nil
}

// chainOrigins converts src as the build does and names each state of its
// final stage's chain.
func chainOrigins(t *testing.T, src string, r configResolver) []string {
	t.Helper()
	ctx := context.Background()
	sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte(src))
	p := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	caps := pb.Caps.CapSet(pb.Caps.All())
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, []byte(src), dockerfile2llb.ConvertOpt{SourceMap: sm, TargetPlatform: &p, LLBCaps: &caps, Config: dockerui.Config{}, MetaResolver: r})
	if err != nil {
		t.Fatal(err)
	}
	def, err := res.SBOM.Core.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	links, err := chainOf(def.ToPB())
	if err != nil {
		t.Fatal(err)
	}
	chain := newBuildChain(links, def.ToPB())
	stages, err := dockerfile.Chain("Dockerfile", []byte(src), dockerfile.Input{})
	if err != nil {
		t.Fatal(err)
	}
	facts, err := dockerfile.Read("Dockerfile", []byte(src), dockerfile.Input{})
	if err != nil {
		t.Fatal(err)
	}
	df := &dockerfileLines{name: "Dockerfile", lines: strings.Split(src, "\n"), stages: stages, base: facts.Base}
	var out []string
	for i := range chain.states {
		o := chain.origin(i, df)
		s := o.String()
		if o.Digest != "" {
			s += "@" + o.Digest
		}
		if o.CopiedFrom != "" {
			s += " [from " + o.CopiedFrom + "]"
		}
		out = append(out, s)
		// Every state but the last is mounted: it must marshal to its own
		// op, so that BuildKit takes it from the build's cache.
		if i > 0 && i < len(chain.states)-1 {
			st, err := stateAt(chain.def, chain.states[i].out)
			if err != nil {
				t.Fatal(err)
			}
			sdef, err := st.Marshal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := outputVertex(sdef); got != digest.Digest(chain.states[i].out.Digest) {
				t.Errorf("state %d re-marshals to %s, want %s", i, got, chain.states[i].out.Digest)
			}
		}
	}
	return out
}

func TestChainOrigins(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     string
		onBuild []string
		want    []string
	}{{
		name: "stages, multi-line RUN, heredoc, COPY --link",
		src: `FROM debian:12-slim AS build
RUN make

FROM debian:12-slim AS runtime
RUN apt-get update && \
    apt-get install -y curl
WORKDIR /app

FROM runtime
COPY --from=build /out/app /app/app
COPY --link --from=build /out/lib /lib/x
RUN <<EOF
apt-get upgrade -y
EOF
`,
		want: []string{
			"base debian:12-slim@" + testBaseDigest,
			"Dockerfile:5-6 RUN apt-get update && …",
			"Dockerfile:7 WORKDIR /app",
			"Dockerfile:10 COPY --from=build /out/app /app/app [from build]",
			"Dockerfile:11 COPY --link --from=build /out/lib /lib/x [from build]",
			"Dockerfile:12-14 RUN <<EOF …",
		},
	}, {
		name: "FROM scratch",
		src: `FROM debian:12-slim AS build
RUN make
FROM scratch
COPY --from=build /out/app /app
COPY --link --from=build /out/lib /lib
`,
		want: []string{
			"unknown: no state 0 in the final stage's chain",
			"Dockerfile:4 COPY --from=build /out/app /app [from build]",
			"Dockerfile:5 COPY --link --from=build /out/lib /lib [from build]",
		},
	}, {
		name: "an op shared with another stage is named in the final stage",
		src: `FROM debian:12-slim AS a
RUN apt-get update

FROM debian:12-slim AS b
RUN apt-get update
RUN touch /b
`,
		want: []string{
			"base debian:12-slim@" + testBaseDigest,
			"Dockerfile:5 RUN apt-get update",
			"Dockerfile:6 RUN touch /b",
		},
	}, {
		name:    "ONBUILD triggers run at the FROM line",
		src:     "FROM example.com/onbuild:1\nRUN true\n",
		onBuild: []string{"RUN echo trigger"},
		want: []string{
			"base example.com/onbuild:1@" + testBaseDigest,
			"Dockerfile:1 ONBUILD trigger of FROM example.com/onbuild:1",
			"Dockerfile:2 RUN true",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := chainOrigins(t, tc.src, configResolver{onBuild: tc.onBuild})
			if !slices.Equal(got, tc.want) {
				t.Errorf("origins of the chain's states:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestChainFoldsPastTheMountBound(t *testing.T) {
	src := "FROM debian:12-slim\n"
	for i := range maxChainMounts + 5 {
		src += "RUN echo " + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\n"
	}
	got := chainOrigins(t, src, configResolver{})
	if len(got) != maxChainMounts+1 {
		t.Fatalf("%d states, want the base and %d", len(got), maxChainMounts)
	}
	if want := "Dockerfile:2-7 6 instructions from line 2 to 7"; got[1] != want {
		t.Errorf("first state kept: %q, want %q", got[1], want)
	}
}
