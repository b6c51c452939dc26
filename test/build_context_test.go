package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/internal/testutil"
)

// contextFiles is a project whose final stage holds minimist 1.2.5 (a
// fixable critical, CVE-2021-44906) and whose policy file suppresses it:
// a build that passes and says "suppressed by ignore secure-build.yaml"
// scanned the stage and read the policy from its context.
func contextFiles(e *buildEnv) map[string]string {
	return map[string]string{
		"Dockerfile":                         strings.ReplaceAll(multiStage, "{{base}}", e.base.Ref),
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
		"secure-build.yaml": "vulnerabilities:\n  ignore:\n    - id: CVE-2021-44906\n      package: minimist\n" +
			"      reason: \"not reachable\"\n      expires: " + time.Now().AddDate(1, 0, 0).Format(time.DateOnly) + "\n",
	}
}

const suppressedByContextPolicy = "suppressed by ignore secure-build.yaml:3: not reachable"

// buildStdin runs "docker-secure build" with stdin; args end with the
// context.
func (e *buildEnv) buildStdin(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	env := []string{"BUILDKIT_HOST=" + e.bk.Addr, "XDG_CACHE_HOME=" + e.cache}
	return testutil.RunWithStdin(t, env, bytes.NewReader(stdin), binary, append([]string{"build", "--progress", "plain", "--db", e.db}, args...)...)
}

// wantScannedWithPolicy checks that a build passed, scanned its final stage
// and applied the policy file of its context.
func wantScannedWithPolicy(t *testing.T, r result) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, suppressedByContextPolicy) || !strings.Contains(r.Stderr, "\nsecure-build linux/") {
		t.Errorf("the scan or the context's policy did not run (want %q and a verdict):\n%s", suppressedByContextPolicy, r.Stderr)
	}
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBuildContextMissingPath: a context that is no folder, URL or "-" is
// named, as buildx names it.
func TestBuildContextMissingPath(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	missing := filepath.Join(t.TempDir(), "nope")
	r := e.build(t, missing)
	if r.Code == 0 || !strings.Contains(r.Stderr, `path "`+missing+`" not found`) || strings.Contains(r.Stderr, "not a directory") {
		t.Errorf("a missing context: exit %d, want a failure saying path %q not found:\n%s", r.Code, missing, r.Stderr)
	}
}

// TestBuildContextStdin: "-" reads a Dockerfile (with an empty context) or
// a tar of the context from stdin; --file - reads the Dockerfile from stdin
// for a folder's context. Each build is scanned.
func TestBuildContextStdin(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	files := contextFiles(e)

	t.Run("Dockerfile", func(t *testing.T) {
		dockerfile := "FROM " + e.base.Ref + "\nRUN echo built > /built\n"
		r := e.buildStdin(t, []byte(dockerfile), "-")
		if r.Code != 0 || !strings.Contains(r.Stderr, "\nsecure-build linux/") || !strings.Contains(r.Stderr, "RUN echo built > /built") {
			t.Errorf("a Dockerfile on stdin: exit %d, want a scanned build of it:\n%s", r.Code, r.Stderr)
		}
	})
	t.Run("file", func(t *testing.T) {
		dockerfile := files["Dockerfile"]
		dir := e.project(t, "FROM scratch\n", map[string]string{
			"node_modules/minimist/package.json": files["node_modules/minimist/package.json"],
			"secure-build.yaml":                  files["secure-build.yaml"],
		})
		wantScannedWithPolicy(t, e.buildStdin(t, []byte(dockerfile), "-f", "-", dir))
	})
	t.Run("tar", func(t *testing.T) {
		wantScannedWithPolicy(t, e.buildStdin(t, tarGz(t, files), "-"))
	})
}

// TestBuildContextGit: a Git repository served by git http-backend on
// loopback is the context, BuildKit fetching it at a branch and a subfolder;
// the policy file in it is read, although its .dockerignore lists it
// (BuildKit applies .dockerignore to local contexts only, so the build sees
// the file); without the policy file the default policy fails the build.
func TestBuildContextGit(t *testing.T) {
	t.Parallel()
	git, err := exec.LookPath("git")
	if err != nil {
		testutil.RequireE2E(t, "git is not installed (apt-get install git)")
	}
	e := newBuildEnv(t)
	work := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	files := contextFiles(e)
	files[".dockerignore"] = "secure-build.yaml\n"
	for name, content := range files {
		path := filepath.Join(work, "app", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q", "-b", "main")
	run("add", ".")
	run("commit", "-q", "-m", "app with its policy")
	run("checkout", "-q", "-b", "strict")
	run("rm", "-q", "app/secure-build.yaml")
	run("commit", "-q", "-m", "no policy file")
	root := t.TempDir()
	run("clone", "-q", "--bare", work, filepath.Join(root, "app.git"))

	srv := httptest.NewServer(&cgi.Handler{
		Path:       git,
		Args:       []string{"http-backend"},
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		InheritEnv: []string{"PATH"},
	})
	t.Cleanup(srv.Close)

	wantScannedWithPolicy(t, e.build(t, srv.URL+"/app.git#main:app"))

	r := e.build(t, srv.URL+"/app.git#strict:app")
	if r.Code != 3 || !strings.Contains(r.Stderr, "secure-build policy failed for linux/") || !strings.Contains(r.Stderr, fixableCriticalID) {
		t.Errorf("the branch without a policy file: exit %d, want the default policy to fail on %s:\n%s", r.Code, fixableCriticalID, r.Stderr)
	}
}

// TestBuildContextURL: a gzipped tar served over HTTP on loopback is the
// context, downloaded by BuildKit; the scan and the policy file in it run.
func TestBuildContextURL(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	archive := tarGz(t, contextFiles(e))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/app.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(archive)
	}))
	t.Cleanup(srv.Close)
	wantScannedWithPolicy(t, e.build(t, srv.URL+"/app.tar.gz"))
}
