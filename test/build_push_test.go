package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestBuildPushAttestations builds a multi-stage project for two platforms
// through "docker secure build" and pushes it; the registry's index then has,
// for each platform, an attestation manifest with the SPDX SBOM and the scan
// result, read back as docker buildx imagetools inspect reads them. The
// final stage holds an unfixed critical, which the default policy lets pass
// and the scan result still lists.
func TestBuildPushAttestations(t *testing.T) {
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
	ref := e.reg.host + "/app:1"
	// --sbom=true asks for BuildKit's SBOM; secure-build's serves it, so no
	// generator image is pulled (none could be, offline).
	r := e.build(t, dir, "--platform", "linux/amd64,linux/arm64", "-t", ref, "--push", "--sbom=true")
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"secure-build linux/amd64: PASS", "secure-build linux/arm64: PASS",
		"linux/arm64: critical " + unfixedCriticalID + " in listed 2.0.1 -> no fix yet",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("build output does not say %q:\n%s", want, r.stderr)
		}
	}

	img := readImage(t, ref)
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		atts := img.attestations[platform]
		if atts == nil {
			t.Errorf("%s: no attestation manifest in the index", platform)
			continue
		}
		var spdxLayers int
		for _, l := range img.attestationLayers[platform] {
			if l.statement.PredicateType == "https://spdx.dev/Document" {
				spdxLayers++
			}
		}
		if spdxLayers != 1 {
			t.Errorf("%s: %d SPDX attestations, want secure-build's alone", platform, spdxLayers)
		}
		sbom, ok := atts["https://spdx.dev/Document"]
		if !ok {
			t.Errorf("%s: no SPDX attestation; predicate types %v", platform, keys(atts))
			continue
		}
		if len(sbom.Subject) != 1 || "sha256:"+sbom.Subject[0].Digest["sha256"] != img.images[platform] {
			t.Errorf("%s: SBOM subject %+v, want the image manifest %s", platform, sbom.Subject, img.images[platform])
		}
		if pkgs := spdxPackages(t, sbom.Predicate); !slices.Contains(pkgs, "listed@2.0.1") {
			t.Errorf("%s: SBOM packages %v, want listed@2.0.1", platform, pkgs)
		}
		scan, ok := atts["https://cosign.sigstore.dev/attestation/vuln/v1"]
		if !ok {
			t.Errorf("%s: no scan result attestation; predicate types %v", platform, keys(atts))
			continue
		}
		var p vulnPredicate
		if err := json.Unmarshal(scan.Predicate, &p); err != nil {
			t.Fatalf("%s: scan predicate: %v", platform, err)
		}
		if p.Scanner.URI == "" || p.Scanner.DB.Version == "" || p.Scanner.DB.Age == "" || p.Metadata.ScanStartedOn == "" {
			t.Errorf("%s: scanner or database facts missing: %+v", platform, p)
		}
		if !p.Metadata.Verdict.Pass || !p.Scanner.Result.Verdict.Pass {
			t.Errorf("%s: verdict is not pass: %+v", platform, p.Metadata.Verdict)
		}
		if len(p.Scanner.Result.Findings) != 1 || p.Scanner.Result.Findings[0].ID != unfixedCriticalID {
			t.Errorf("%s: findings %+v, want %s alone", platform, p.Scanner.Result.Findings, unfixedCriticalID)
		}
		if _, ok := atts["https://slsa.dev/provenance/v1"]; !ok {
			t.Errorf("%s: no provenance (buildx's default mode=min); predicate types %v", platform, keys(atts))
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
