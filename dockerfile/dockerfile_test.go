package dockerfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/policy"
)

func readFacts(t *testing.T, dockerfile, target string, args, contexts map[string]string) *policy.BuildFacts {
	t.Helper()
	f, err := Read("Dockerfile", []byte(dockerfile), Input{Target: target, BuildArgs: args, NamedContexts: contexts,
		PlatformArgs: map[string]string{"TARGETARCH": "arm64", "TARGETOS": "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRead(t *testing.T) {
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
	// An OCI layout context named by a tag: the tag is kept, it chose the
	// image whose digest the client looked up.
	f = readFacts(t, "FROM base\n", "", nil, map[string]string{"base": "oci-layout://store:latest@sha256:" + strings.Repeat("a", 64)})
	if f.Base.ContextTag != "latest" || !f.Base.Digest || f.Base.Ref != "" {
		t.Errorf("an OCI layout context tagged latest: %+v", f.Base)
	}
	// BuildKit serves "FROM x:latest" and "FROM docker.io/library/x" from
	// a context named "x".
	for _, from := range []string{"debian:latest", "docker.io/library/debian", "docker.io/library/debian:latest"} {
		f = readFacts(t, "FROM "+from+"\n", "", nil, map[string]string{"debian": "oci-layout://store@sha256:" + strings.Repeat("a", 64)})
		if f.Base.Context == "" || f.Base.Ref != "" {
			t.Errorf("FROM %s with a context named debian: %+v, want the context", from, f.Base)
		}
	}
	f = readFacts(t, "FROM debian:12\n", "", nil, map[string]string{"debian": "oci-layout://store@sha256:" + strings.Repeat("a", 64)})
	if f.Base.Context != "" || f.Base.Ref != "debian:12" {
		t.Errorf("FROM debian:12 with a context named debian (which BuildKit does not use for it): %+v", f.Base)
	}
	f = readFacts(t, "FROM base\n", "", nil, map[string]string{"base": "docker-image://registry.example.com/base:1"})
	if f.Base.Ref != "registry.example.com/base:1" {
		t.Errorf("a base from a docker-image context: %+v", f.Base)
	}
	if f := readFacts(t, "FROM scratch\nCOPY a /\n", "", nil, nil); !f.Base.Scratch {
		t.Errorf("scratch: %+v", f.Base)
	}
	if _, err := Read("Dockerfile", []byte("FROM a AS x\n"), Input{Target: "y"}); err == nil || !strings.Contains(err.Error(), `no stage named "y"`) {
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
