package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func readFacts(t *testing.T, dockerfile, target string, args, contexts map[string]string) *BuildFacts {
	t.Helper()
	f, err := ReadDockerfile("Dockerfile", []byte(dockerfile), DockerfileInput{Target: target, BuildArgs: args, NamedContexts: contexts,
		PlatformArgs: map[string]string{"TARGETARCH": "arm64", "TARGETOS": "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReadDockerfile(t *testing.T) {
	df := `ARG BASE=debian:12
FROM golang:1.26 AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc make
RUN apt-get upgrade -y

FROM ${BASE} AS runtime-base
RUN apk upgrade --no-cache

FROM runtime-base AS final
RUN apt-get install -y ca-certificates && yum update openssl
COPY --from=build /out /app

FROM final AS debug
RUN apt-get install -y build-essential
`
	f := readFacts(t, df, "final", nil, nil)
	if f.Base.Ref != "debian:12" || f.Base.Line != 6 || f.FinalLine != 9 {
		t.Errorf("target final: base %+v, final line %d", f.Base, f.FinalLine)
	}
	if len(f.BuildTools) != 0 {
		t.Errorf("build tools installed only in the build stage counted for the final one: %+v", f.BuildTools)
	}
	if len(f.Upgrades) != 2 || f.Upgrades[0].Line != 4 || f.Upgrades[1].Line != 7 {
		t.Errorf("upgrades: %+v, want apt-get upgrade on 4 and apk upgrade on 7 (yum update of a package is not one)", f.Upgrades)
	}

	f = readFacts(t, df, "", map[string]string{"BASE": "alpine"}, nil)
	if f.Base.Ref != "alpine" || len(f.BuildTools) != 1 || f.BuildTools[0].Line != 14 || f.BuildTools[0].What != "build-essential" {
		t.Errorf("the last stage, BASE=alpine: base %+v, tools %+v", f.Base, f.BuildTools)
	}

	f = readFacts(t, "FROM base\nRUN true\n", "", nil, map[string]string{"base": "oci-layout://store@sha256:" + strings.Repeat("a", 64)})
	if f.Base.Ref != "" || !f.Base.Digest || f.Base.Context == "" {
		t.Errorf("a base from an OCI layout context: %+v", f.Base)
	}
	f = readFacts(t, "FROM base\n", "", nil, map[string]string{"base": "docker-image://registry.example.com/base:1"})
	if f.Base.Ref != "registry.example.com/base:1" {
		t.Errorf("a base from a docker-image context: %+v", f.Base)
	}
	if f := readFacts(t, "FROM scratch\nCOPY a /\n", "", nil, nil); !f.Base.Scratch {
		t.Errorf("scratch: %+v", f.Base)
	}
	if _, err := ReadDockerfile("Dockerfile", []byte("FROM a AS x\n"), DockerfileInput{Target: "y"}); err == nil || !strings.Contains(err.Error(), `no stage named "y"`) {
		t.Errorf("unknown target: %v", err)
	}
	// ARGs built of ARGs, and the automatic platform ARGs.
	f = readFacts(t, "ARG V=12\nARG BASE=debian:${V}-slim\nFROM ${BASE}\n", "", nil, nil)
	if f.Base.Ref != "debian:12-slim" {
		t.Errorf("ARG in an ARG: base %q, want debian:12-slim", f.Base.Ref)
	}
	f = readFacts(t, "FROM registry.example.com/base-${TARGETARCH}:1\n", "", nil, nil)
	if f.Base.Ref != "registry.example.com/base-arm64:1" {
		t.Errorf("TARGETARCH in FROM: base %q", f.Base.Ref)
	}
}

// TestPackageCommands: a package manager counts where it is the command,
// with its options' values skipped, in heredocs too; not as a word of
// another command.
func TestPackageCommands(t *testing.T) {
	df := `FROM debian:12
RUN echo "apt-get upgrade is forbidden here" && printf 'apk upgrade\n'
RUN apt-get -o Acquire::Retries=3 install -y --no-install-recommends gcc=4:12.2.0-3
RUN DEBIAN_FRONTEND=noninteractive sudo -E apt-get dist-upgrade -y
RUN <<EOF
set -e
apk add --virtual .build-deps build-base
apk upgrade
EOF
RUN zypper update openssl && dnf update openssl && if true; then yum -y update; fi
`
	f := readFacts(t, df, "", nil, nil)
	var tools, upgrades []string
	for _, l := range f.BuildTools {
		tools = append(tools, fmt.Sprintf("%d:%s", l.Line, l.What))
	}
	for _, l := range f.Upgrades {
		upgrades = append(upgrades, fmt.Sprintf("%d:%s", l.Line, l.What))
	}
	if got := strings.Join(tools, " "); got != "3:gcc 5:build-base" {
		t.Errorf("build tools %q, want 3:gcc 5:build-base", got)
	}
	if got := strings.Join(upgrades, " "); got != "4:apt-get dist-upgrade 5:apk upgrade 10:yum update" {
		t.Errorf("upgrades %q, want 4:apt-get dist-upgrade 5:apk upgrade 10:yum update", got)
	}
}

func TestBuildRules(t *testing.T) {
	created := func(days int) *time.Time { c := now.AddDate(0, 0, -days); return &c }
	epoch := time.Unix(0, 0).UTC()
	strict := mustParse(t, `base-image:
  pinned: {action: fail}
  repositories: {allow: [debian, "ghcr.io/acme/*"]}
  max-age: {days: 90}
dockerfile:
  multi-stage: {}
  no-distro-upgrade: {}
  non-root-user: {}
`)
	digestPolicy := mustParse(t, "base-image:\n  pinned: {action: fail, require: digest}\n")
	digest := "@sha256:" + strings.Repeat("b", 64)
	cases := []struct {
		name   string
		p      *Policy
		facts  BuildFacts
		rules  string // the rules broken, in order
		notes  int
		passes bool
	}{
		{"pinned to a version, allowed, fresh, non-root", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(10)}, User: "app"}, "", 0, true},
		{"untagged", strict, BuildFacts{Base: BaseImage{Ref: "debian", Created: created(10)}, User: "app"}, "base-image.pinned", 0, false},
		{"latest", strict, BuildFacts{Base: BaseImage{Ref: "debian:latest", Created: created(10)}, User: "app"}, "base-image.pinned", 0, false},
		{"a floating tag", strict, BuildFacts{Base: BaseImage{Ref: "debian:stable", Created: created(10)}, User: "app"}, "base-image.pinned", 0, false},
		{"a codename", strict, BuildFacts{Base: BaseImage{Ref: "debian:bookworm", Created: created(10)}, User: "app"}, "", 0, true},
		{"namespace allowed", strict, BuildFacts{Base: BaseImage{Ref: "ghcr.io/acme/base:2", Created: created(10)}, User: "1000"}, "", 0, true},
		{"repository not allowed", strict, BuildFacts{Base: BaseImage{Ref: "ghcr.io/other/base:2", Created: created(10)}, User: "app"}, "base-image.repositories", 0, false},
		{"too old", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(200)}, User: "app"}, "base-image.max-age", 0, false},
		{"reproducible, dated 1970: unknown age, not a failure", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: &epoch}, User: "app"}, "", 1, true},
		{"root by uid", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(1)}, User: "0:0"}, "dockerfile.non-root-user", 0, false},
		{"no user", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(1)}}, "dockerfile.non-root-user", 0, false},
		{"tools and upgrades", strict, BuildFacts{Base: BaseImage{Ref: "debian:12", Created: created(1)}, User: "app",
			BuildTools: []Line{{Line: 3, What: "gcc"}}, Upgrades: []Line{{Line: 4, What: "apt-get upgrade"}}}, "dockerfile.multi-stage,dockerfile.no-distro-upgrade", 0, false},
		{"toolchain image as the final base", strict, BuildFacts{Base: BaseImage{Ref: "golang:1.26", Created: created(1)}, User: "app"}, "base-image.repositories,dockerfile.multi-stage", 0, false},
		{"scratch: no base rules", strict, BuildFacts{Base: BaseImage{Scratch: true}, User: "65532"}, "", 0, true},
		{"defaults warn", Defaults(), BuildFacts{Base: BaseImage{Ref: "debian"}, Upgrades: []Line{{Line: 2, What: "apt-get upgrade"}}}, "base-image.pinned,dockerfile.no-distro-upgrade,dockerfile.non-root-user", 1, true},
		{"require digest on a tag", digestPolicy, BuildFacts{Base: BaseImage{Ref: "debian:12"}, User: "app"}, "base-image.pinned", 1, false},
		{"require digest, pinned", digestPolicy, BuildFacts{Base: BaseImage{Ref: "debian:12" + digest, Digest: true}, User: "app"}, "", 1, true},
		{"require digest, OCI layout context with a digest", digestPolicy, BuildFacts{Base: BaseImage{Context: "oci-layout://s@sha256:x", Digest: true}, User: "app"}, "", 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			facts := c.facts
			facts.Dockerfile = "Dockerfile"
			v := c.p.Evaluate(Input{Build: &facts, Now: now})
			var rules []string
			for _, x := range v.Violations {
				rules = append(rules, x.Rule)
			}
			if got := strings.Join(rules, ","); got != c.rules || v.Pass != c.passes || len(v.Notes) != c.notes {
				t.Errorf("rules %q pass %v notes %q; want %q pass %v and %d notes", got, v.Pass, v.Notes, c.rules, c.passes, c.notes)
			}
		})
	}
}

func TestViolationNamesTheLine(t *testing.T) {
	p := mustParse(t, "dockerfile:\n  no-distro-upgrade: {action: fail}\n")
	v := p.Evaluate(Input{Build: &BuildFacts{Dockerfile: "app/Dockerfile", User: "app", Base: BaseImage{Scratch: true},
		Upgrades: []Line{{Line: 7, What: "apk upgrade"}}}, Now: now})
	reasons := strings.Join(v.Reasons(), "\n")
	if v.Pass || !strings.Contains(reasons, "apk upgrade upgrades the whole distribution") || !strings.Contains(reasons, "(app/Dockerfile:7, dockerfile.no-distro-upgrade)") {
		t.Errorf("reasons: %s", reasons)
	}
}
