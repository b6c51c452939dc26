package test

import (
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// TestBuildPushAttestations builds a multi-stage project for two platforms
// through "docker secure build" and pushes it; the registry's index then has,
// for each platform, an attestation manifest with the SPDX SBOM and the scan
// result, read back as docker buildx imagetools inspect reads them. The
// final stage holds an unfixed critical, which the default policy lets pass
// and the scan result still lists.
func TestBuildPushAttestations(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	// The base exists for the build platform only: the build stage runs
	// there, and the final stages are COPY-only, so no emulator is needed.
	dockerfile := `FROM --platform=$BUILDPLATFORM {{base}} AS build
ARG TARGETARCH
RUN mkdir -p /out/node_modules/listed && echo "$TARGETARCH" > /out/arch
COPY listed.json /out/node_modules/listed/package.json

FROM scratch
COPY --from=build /out /app
`
	dir := e.project(t, dockerfile, map[string]string{"listed.json": npmPackage("listed", "2.0.1")})
	ref := e.reg.Ref("app:1")
	// --sbom=true asks for BuildKit's SBOM; secure-build's serves it, so no
	// generator image is pulled (none could be, offline).
	r := e.build(t, dir, "--platform", "linux/amd64,linux/arm64", "-t", ref, "--push", "--sbom=true")
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, want := range []string{
		"secure-build linux/amd64: PASS", "secure-build linux/arm64: PASS",
		"linux/arm64: critical " + unfixedCriticalID + " in listed 2.0.1 -> no fix yet",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("build output does not say %q:\n%s", want, r.Stderr)
		}
	}

	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		attested.Assert(t, ref, platform, attested.Want{Package: "listed@2.0.1", Finding: unfixedCriticalID, Provenance: true})
	}
}
