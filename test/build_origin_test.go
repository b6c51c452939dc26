package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/internal/testutil"
)

// originBaseStatus is the dpkg status of the origin tests' base: glibc
// (vulnerable, DEBIAN-CVE-2023-4911 and others) and epochpkg 1:2.0-1
// (DEBIAN-CVE-2099-0001, fixed in 1:2.3-1).
const originBaseStatus = `Package: libc6
Status: install ok installed
Version: 2.36-9
Architecture: amd64
Source: glibc

Package: epochpkg
Status: install ok installed
Version: 1:2.0-1
Architecture: amd64

`

// originDockerfile's final stage is FROM another stage: its base image is
// that stage's. Line numbers matter to the tests.
const originDockerfile = `FROM {{base}} AS build
COPY app /out/app

FROM {{base}} AS runtime
RUN printf 'Package: tildepkg\nStatus: install ok installed\n' >> /var/lib/dpkg/status && \
    printf 'Version: 1.0~rc1-1\nArchitecture: amd64\n\n' >> /var/lib/dpkg/status

FROM runtime
COPY --from=build /out/app /usr/local/bin/app
RUN busybox sed -i 's/^Version: 1:2.0-1$/Version: 1:2.2-1/' /var/lib/dpkg/status
`

// goTextRecord is an OSV record written for the origin tests: every
// golang.org/x/text is affected, so the Go binary has a finding.
const goTextRecord = `{"id": "GO-2099-0100", "modified": "2024-01-01T00:00:00Z",
 "summary": "written for the tests: every golang.org/x/text",
 "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/text"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}`

// goBinaryWithXNet builds a small Go program that links golang.org/x/net
// and golang.org/x/text (goTextRecord) from the module cache: no network.
func goBinaryWithXNet(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n\nrequire golang.org/x/net v0.59.0\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/net/idna\"\n)\n\nfunc main() { fmt.Println(idna.ToASCII(\"example.com\")) }\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-mod=mod", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GONOSUMDB=*", "GONOSUMCHECK=1", "GOSUMDB=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build a program with golang.org/x/net: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// originEnv is a build environment whose base holds originBaseStatus, and
// a project of originDockerfile.
func originEnv(t *testing.T) (*buildEnv, string) {
	t.Helper()
	e := newBuildEnv(t)
	records := filepath.Join(t.TempDir(), "Go")
	if err := os.MkdirAll(records, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(records, "GO-2099-0100.json"), []byte(goTextRecord), 0o644); err != nil {
		t.Fatal(err)
	}
	e.importDB(t, "../vuln/testdata/osv/Debian", records)
	e.reg = e.reg.Namespace(t)
	base, err := e.originBase(t)
	if err != nil {
		t.Fatal(err)
	}
	e.base = e.reg.Push(t, "debian-like:12", base)
	dir := e.project(t, originDockerfile, map[string]string{"app": string(goBinaryWithXNet(t))})
	if err := os.Chmod(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	return e, dir
}

// originBase is the origin tests' base image: busybox as Debian 12 with
// originBaseStatus.
func (e *buildEnv) originBase(t *testing.T) (v1.Image, error) {
	return mutate.AppendLayers(testutil.BusyboxImage(t, debianOSRelease), testutil.FileLayer(t, map[string][]byte{
		"var/lib/dpkg/status": []byte(originBaseStatus),
	}))
}

// originWarnings are the finding warnings of a plain progress output, by
// "ID package": the origin each names.
func originWarnings(t *testing.T, stderr string) map[string]string {
	t.Helper()
	// The list after the progress, as buildx prints it.
	re := regexp.MustCompile(`(?m)^ - linux/[a-z0-9]+: \w+ (\S+) in (\S+) \S+ -> .*? \((.*)\)$`)
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(stderr, -1) {
		out[m[1]+" "+m[2]] = m[3]
	}
	return out
}

// TestBuildOrigins: each finding of a multi-stage build names where it
// came from: the base image through the chain of stages, the multi-line
// RUN that wrote a package, the COPY --from that brought a Go binary, the
// later line that upgraded a base package. The pushed manifest names its
// base. A cached rebuild says the same without scanning again.
func TestBuildOrigins(t *testing.T) {
	t.Parallel()
	e, dir := originEnv(t)
	ref := e.reg.Ref("app:origins")
	r := e.build(t, dir, "--fail-on", "none", "-t", ref, "--push")
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	want := map[string]string{
		"DEBIAN-CVE-2023-4911 libc6":     "base " + e.base.Ref,
		"DEBIAN-CVE-2099-0001 tildepkg":  "Dockerfile:5-6 RUN printf 'Package: tildepkg\\nStatus: install ok installed…",
		"GO-2099-0100 golang.org/x/text": "Dockerfile:9 COPY --from=build /out/app /usr/local/bin/app",
		"DEBIAN-CVE-2099-0001 epochpkg":  "Dockerfile:10 RUN busybox sed -i 's/^Version: 1:2.0-1$/Version: 1:2.2-1/'…",
	}
	check := func(what, stderr string) {
		t.Helper()
		got := originWarnings(t, stderr)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %s: origin %q, want %q\nall: %q", what, k, got[k], w, got)
			}
		}
	}
	check("first build", r.Stderr)

	// The manifest names the final stage's external base, through the stage
	// it is FROM.
	annotations := manifestAnnotations(t, ref)[runtime.GOARCH]
	baseRef, err := name.ParseReference(e.base.Ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if got := annotations[ocispecs.AnnotationBaseImageName]; got != baseRef.Name() {
		t.Errorf("annotation %s = %q, want %q", ocispecs.AnnotationBaseImageName, got, baseRef.Name())
	}
	if got := annotations[ocispecs.AnnotationBaseImageDigest]; got != e.base.Digest {
		t.Errorf("annotation %s = %q, want %q (the digest FROM resolved to)", ocispecs.AnnotationBaseImageDigest, got, e.base.Digest)
	}

	// Unchanged: the scan step is cached and the origins are the same.
	r = e.build(t, dir, "--fail-on", "none")
	if r.Code != 0 {
		t.Fatalf("rebuild: exit %d\n%s", r.Code, r.Stderr)
	}
	if !scanStepCached(t, r.Stderr) {
		t.Errorf("the unchanged rebuild ran the scan step again:\n%s", r.Stderr)
	}
	check("cached rebuild", r.Stderr)

	// A comment above everything moves every line: the cached step's
	// origins are named by today's Dockerfile.
	df := filepath.Join(dir, "Dockerfile")
	b, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(df, append([]byte("# moved\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.build(t, dir, "--fail-on", "none")
	if r.Code != 0 {
		t.Fatalf("build after a comment: exit %d\n%s", r.Code, r.Stderr)
	}
	got := originWarnings(t, r.Stderr)
	if w := "Dockerfile:10 COPY --from=build /out/app /usr/local/bin/app"; got["GO-2099-0100 golang.org/x/text"] != w {
		t.Errorf("after a comment line: origin %q, want %q", got["GO-2099-0100 golang.org/x/text"], w)
	}

	// Attribution off: the findings, no origins.
	r = e.build(t, dir, "--fail-on", "none", "--build-arg", "SECURE_BUILD_ORIGINS=false")
	if r.Code != 0 {
		t.Fatalf("build without origins: exit %d\n%s", r.Code, r.Stderr)
	}
	if got := originWarnings(t, r.Stderr); len(got) != 0 {
		t.Errorf("SECURE_BUILD_ORIGINS=false: findings with origins %q", got)
	}
	if !strings.Contains(r.Stderr, "GO-2099-0100 in golang.org/x/text") {
		t.Errorf("SECURE_BUILD_ORIGINS=false: the findings are gone:\n%s", r.Stderr)
	}
}

// TestBuildOriginsMultiPlatform: each platform's manifest names the base
// the FROM line resolved to (a multi-platform index, by its digest), and
// each platform's findings are attributed on their own.
func TestBuildOriginsMultiPlatform(t *testing.T) {
	t.Parallel()
	e, _ := originEnv(t)
	amd64, err := e.originBase(t)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := amd64.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = "arm64"
	arm64, err := mutate.ConfigFile(amd64, cfg)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	baseRef := e.reg.Ref("multi:1")
	tag, err := name.NewTag(baseRef, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	// COPY only: the arm64 stage runs nothing, so no emulator is needed.
	dir := e.project(t, "FROM "+baseRef+"\nCOPY app /usr/local/bin/app\n", map[string]string{"app": string(goBinaryWithXNet(t))})
	if err := os.Chmod(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	ref := e.reg.Ref("app:multi")
	r := e.build(t, dir, "--fail-on", "none", "--platform", "linux/amd64,linux/arm64", "-t", ref, "--push")
	if r.Code != 0 {
		t.Fatalf("build: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, p := range []string{"amd64", "arm64"} {
		for _, want := range []string{
			" - linux/" + p + ": high DEBIAN-CVE-2023-4911 in libc6 2.36-9 -> 2.36-9+deb12u3 (base " + baseRef + ")",
			" - linux/" + p + ": unknown GO-2099-0100 in golang.org/x/text v0.42.0 -> no fix yet (Dockerfile:2 COPY app /usr/local/bin/app)",
		} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("build output does not say %q:\n%s", want, r.Stderr)
			}
		}
	}

	byArch := manifestAnnotations(t, ref)
	for arch, annotations := range byArch {
		if got := annotations[ocispecs.AnnotationBaseImageName]; got != tag.Name() {
			t.Errorf("%s: annotation %s = %q, want %q", arch, ocispecs.AnnotationBaseImageName, got, tag.Name())
		}
		if got := annotations[ocispecs.AnnotationBaseImageDigest]; got != idxDigest.String() {
			t.Errorf("%s: annotation %s = %q, want the index digest %s", arch, ocispecs.AnnotationBaseImageDigest, got, idxDigest)
		}
	}
	if len(byArch) != 2 {
		t.Errorf("%d platform manifests, want 2", len(byArch))
	}
}

// manifestAnnotations are the annotations of each linux image manifest of
// the index ref names, by architecture.
func manifestAnnotations(t *testing.T, ref string) map[string]map[string]string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.OS != "linux" {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		out[d.Platform.Architecture] = m.Annotations
	}
	return out
}
