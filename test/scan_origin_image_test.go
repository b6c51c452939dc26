package test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/scan"
	"github.com/secure-build/secure-build/vuln"
)

// imageOriginBase is a base image with two vulnerable node modules in a layer
// of its own, over busybox, ending with a CMD as base images do.
func imageOriginBase(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: testutil.BusyboxLayer(t, debianOSRelease), History: v1.History{CreatedBy: "ADD busybox /"}},
		mutate.Addendum{Layer: testutil.FileLayer(t, map[string][]byte{
			"usr/lib/node_modules/listed/package.json":         []byte(npmPackage("listed", "2.0.1")),
			"usr/lib/node_modules/@scope/lastpkg/package.json": []byte(npmPackage("@scope/lastpkg", "1.2.0")),
		}), History: v1.History{CreatedBy: "COPY node_modules /usr/lib/node_modules"}},
		mutate.Addendum{History: v1.History{CreatedBy: `CMD ["sh"]`, EmptyLayer: true}},
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config = v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// imageOriginDockerfile adds minimist 1.2.5 on a multi-line RUN (lines 2-4) and
// upgrades the base's "listed" on line 6; the base's @scope/lastpkg stays.
const imageOriginDockerfile = `FROM {{base}}
RUN /bin/busybox mkdir -p /usr/lib/node_modules/minimist && \
    echo '{"name":"minimist","version":"1.2.5","license":"MIT"}' \
      > /usr/lib/node_modules/minimist/package.json
ENV GREETING=hello
COPY listed.json /usr/lib/node_modules/listed/package.json
`

// TestScanOriginImage: an image built by BuildKit, exported to an OCI
// layout (or pushed) and scanned there: each finding names the layer that brought its
// package and the history entry that made it; with mode=max provenance
// (SLSA v0.2 and v1) also the Dockerfile lines, and the base image the
// build started from; without it, a probable base from the history.
// verify --scan of the pushed image says the same.
func TestScanOriginImage(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	base := e.reg.Push(t, "originbase:1", imageOriginBase(t))
	dir := e.project(t, strings.ReplaceAll(imageOriginDockerfile, "{{base}}", base.Ref), map[string]string{
		"listed.json": npmPackage("listed", "2.0.2"),
	})
	db, err := vuln.Open(e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	type want struct {
		kind               origin.Kind
		layer              int
		createdBy          string
		startLine, endLine int
		instruction        string
	}
	const runBy = `RUN /bin/sh -c /bin/busybox mkdir -p /usr/lib/node_modules/minimist &&     echo '{"name":"minimist","version":"1.2.5","license":"MIT"}'       > /usr/lib/node_modules/minimist/package.json # buildkit`
	for _, tc := range []struct {
		name       string
		provenance string
		approx     bool
		// to is where the image goes and is scanned: an OCI layout, the
		// registry, or a docker save archive.
		to string
	}{
		{"provenance v0.2", "mode=max", false, "oci-layout"},
		{"provenance v1", "mode=max,version=v1", false, "oci-layout"},
		{"history only", "", true, "oci-layout"},
		{"registry, provenance v1", "mode=max,version=v1", false, "registry"},
		{"docker archive", "", true, "docker-archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "image")
			var target, output string
			switch ref := e.reg.Ref("origin-app:1"); tc.to {
			case "oci-layout":
				target, output = "oci-layout:"+out, "type=oci,tar=false,dest="+out
			case "registry":
				target, output = "registry:"+ref, "type=image,name="+ref+",push=true,registry.insecure=true"
			case "docker-archive":
				target, output = "docker-archive:"+out, "type=docker,name="+ref+",dest="+out
			}
			args := []string{"--frontend", "dockerfile.v0", "--local", "context=" + dir, "--local", "dockerfile=" + dir, "--output", output}
			if tc.provenance != "" {
				args = append(args, "--opt", "attest:provenance="+tc.provenance)
			}
			e.bk.Build(t, args...)
			withLines := tc.provenance != ""
			wants := map[string]want{
				"@scope/lastpkg": {origin.Base, 1, "COPY node_modules /usr/lib/node_modules", 1, 1, "FROM " + base.Ref},
				"minimist":       {origin.Layer, 2, runBy, 2, 4, "RUN /bin/busybox mkdir -p /usr/lib/node_modules/minimist && \\"},
				// Upgraded on a later line: that line's, not the base's.
				"listed": {origin.Layer, 3, "COPY listed.json /usr/lib/node_modules/listed/package.json # buildkit", 6, 6, "COPY listed.json /usr/lib/node_modules/listed/package.json"},
			}
			check := func(how string, findings []vuln.Finding) {
				t.Helper()
				seen := map[string]bool{}
				for _, f := range findings {
					w, ok := wants[f.Package.Name]
					if !ok {
						t.Errorf("%s: unexpected finding %s in %s", how, f.ID, f.Package.PURL)
						continue
					}
					seen[f.Package.Name] = true
					if len(f.Package.Origins) != 1 {
						t.Errorf("%s: %s: origins %+v, want one", how, f.Package.Name, f.Package.Origins)
						continue
					}
					o := f.Package.Origins[0]
					if o.Kind != w.kind || o.Layer == nil || *o.Layer != w.layer || o.CreatedBy != w.createdBy || !strings.HasPrefix(o.DiffID, "sha256:") {
						t.Errorf("%s: %s: origin %+v, want %s layer %d by %q", how, f.Package.Name, o, w.kind, w.layer, w.createdBy)
					}
					switch {
					case withLines && (o.File != "Dockerfile" || o.StartLine != w.startLine || o.EndLine != w.endLine || !strings.HasPrefix(o.Instruction, w.instruction)):
						t.Errorf("%s: %s: Dockerfile %s:%d-%d %q, want Dockerfile:%d-%d %q", how, f.Package.Name, o.File, o.StartLine, o.EndLine, o.Instruction, w.startLine, w.endLine, w.instruction)
					case !withLines && o.StartLine != 0:
						t.Errorf("%s: %s: lines %d-%d without provenance", how, f.Package.Name, o.StartLine, o.EndLine)
					}
					if o.Kind == origin.Base {
						if o.Approximate != tc.approx {
							t.Errorf("%s: base approximate %v, want %v", how, o.Approximate, tc.approx)
						}
						if withLines && (o.Digest != base.Digest || !strings.Contains(o.Image, "originbase:1")) {
							t.Errorf("%s: base %q %q, want %s@%s", how, o.Image, o.Digest, base.Ref, base.Digest)
						}
					}
				}
				if len(seen) != len(wants) {
					t.Errorf("%s: findings in %v, want one in each of the %d packages", how, seen, len(wants))
				}
			}

			rep, err := scan.Run(context.Background(), target, db, policy.Defaults(), scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			check("scan.Run", rep.Findings)

			// The command: the JSON report carries each finding's origins.
			r := runCmd(t, nil, binary, "scan", "--db", e.db, "--format", "json", target)
			if r.Code != 3 {
				t.Fatalf("docker-secure scan %s: exit %d, want 3 (the fixable critical in minimist)\n%s%s", target, r.Code, r.Stdout, r.Stderr)
			}
			check("scan --format json", findingsOfJSON(t, []byte(r.Stdout)))

			if tc.to != "registry" {
				return
			}
			// verify --scan pulls the image, which has provenance and no
			// SBOM attestation, and attributes its findings the same way.
			r = runCmd(t, nil, binary, "verify", "--scan", "--db", e.db, "--format", "json", strings.TrimPrefix(target, "registry:"))
			if r.Code != 3 {
				t.Fatalf("docker-secure verify --scan: exit %d, want 3\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			var verified struct {
				Platforms []struct {
					SBOM   string          `json:"sbom"`
					Report json.RawMessage `json:"report"`
				} `json:"platforms"`
			}
			if err := json.Unmarshal([]byte(r.Stdout), &verified); err != nil || len(verified.Platforms) != 1 || verified.Platforms[0].SBOM != "scan" {
				t.Fatalf("verify --format json: %v, want one platform scanned now:\n%s", err, r.Stdout)
			}
			check("verify --scan --format json", findingsOfJSON(t, verified.Platforms[0].Report))
		})
	}
}

// findingsOfJSON reads the findings of a JSON report with their package's
// name and origins; a finding without origins fails the test.
func findingsOfJSON(t *testing.T, report []byte) []vuln.Finding {
	t.Helper()
	var doc struct {
		Findings []struct {
			Package struct {
				Name string `json:"name"`
			} `json:"package"`
			Origins *[]origin.Origin `json:"origins"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(report, &doc); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, report)
	}
	var out []vuln.Finding
	for _, f := range doc.Findings {
		if f.Origins == nil {
			t.Fatalf("JSON report: the finding in %s carries no origins:\n%s", f.Package.Name, report)
		}
		out = append(out, vuln.Finding{Package: vuln.Package{Name: f.Package.Name, Origins: *f.Origins}})
	}
	return out
}
