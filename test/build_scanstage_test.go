package test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/testutil/attested"
)

// TestBuildScanStage: a stage that declares ARG BUILDKIT_SBOM_SCAN_STAGE=true
// (as with BuildKit's SBOM generators) is scanned too, and its SBOM is
// attached beside the final stage's.
func TestBuildScanStage(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	dockerfile := `FROM {{base}} AS build
ARG BUILDKIT_SBOM_SCAN_STAGE=true
COPY build-deps /deps/node_modules
RUN mkdir -p /out && echo built > /out/artifact

FROM {{base}}
COPY --from=build /out /app
COPY node_modules /app/node_modules
`
	dir := e.project(t, dockerfile, map[string]string{
		"node_modules/listed/package.json": npmPackage("listed", "2.0.1"),
		"build-deps/builder/package.json":  npmPackage("builder", "3.0.0"),
	})
	ref := e.reg.Ref("app:stages")
	r := e.build(t, dir, "-t", ref, "--push")
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	img := attested.ReadImage(t, ref)
	var names []string
	stages := map[string][]string{}
	for _, l := range img.AttestationLayers["linux/amd64"] {
		if l.Statement.PredicateType != attest.SPDXPredicateType {
			continue
		}
		var doc struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(l.Statement.Predicate, &doc); err != nil {
			t.Fatal(err)
		}
		names = append(names, doc.Name)
		stages[doc.Name] = attested.SPDXPackages(t, l.Statement.Predicate)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"final stage", "stage build"}) {
		t.Fatalf("SBOM documents %v, want the final stage's and the build stage's", names)
	}
	if !slices.Contains(stages["stage build"], "builder@3.0.0") || slices.Contains(stages["final stage"], "builder@3.0.0") {
		t.Errorf("packages by stage %v: builder@3.0.0 belongs to the build stage only", stages)
	}
}
