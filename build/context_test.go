package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session/upload/uploadprovider"
	"github.com/tonistiigi/fsutil"
)

func TestKindOf(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.tar")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A folder named like a Git repository is a folder, as in buildx.
	lookalike := filepath.Join(dir, "github.com", "org", "repo")
	if err := os.MkdirAll(lookalike, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for path, want := range map[string]contextKind{
		".":                                    localContext,
		dir:                                    localContext,
		"github.com/org/repo":                  localContext,
		"-":                                    stdinContext,
		"https://example.com/app.tar.gz":       remoteContext,
		"http://127.0.0.1:8080/ctx":            remoteContext,
		"https://example.com/org/app.git#v1":   remoteContext,
		"git@github.com:org/app.git":           remoteContext,
		"git://127.0.0.1/app.git#main:sub":     remoteContext,
		"ssh://git@example.com/org/app.git":    remoteContext,
		"github.com/org/other":                 remoteContext,
		"https://example.com/app.git?ref=v1.0": remoteContext,
	} {
		if got, err := kindOf(path); err != nil || got != want {
			t.Errorf("kindOf(%q) = %v, %v; want %v", path, got, err, want)
		}
	}
	for path, want := range map[string]string{
		"missing":                            `unable to prepare context: path "missing" not found`,
		"app.tar":                            `unable to prepare context: path "app.tar" is not a directory (a tar archive of the context is read from stdin: build - < app.tar)`,
		"":                                   "no build context given",
		"./missing":                          `path "./missing" not found`,
		"ftp://host":                         `path "ftp://host" not found`,
		"https://example.com/app.git?nope=1": `build context "https://example.com/app.git?nope=1"`,
	} {
		if _, err := kindOf(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("kindOf(%q): %v, want an error saying %q", path, err, want)
		}
	}
}

func newSolve() client.SolveOpt {
	return client.SolveOpt{LocalMounts: map[string]fsutil.FS{}, OCIStores: map[string]content.Store{}, FrontendAttrs: map[string]string{}}
}

// files lists what an input would send: path and content, walked from
// "/" as fsutil's sender walks.
func files(t *testing.T, fs fsutil.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.Walk(t.Context(), string(filepath.Separator), func(path string, entry iofs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		rc, err := fs.Open(path)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return out
}

func TestSetMainContextLocal(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"Dockerfile": "FROM a\n", "app.txt": "app", "other/Build.df": "FROM b\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	solve := newSolve()
	if err := setMainContext(&solve, dir, "", nil); err != nil {
		t.Fatal(err)
	}
	if solve.FrontendAttrs["filename"] != "Dockerfile" || files(t, solve.LocalMounts["context"])["app.txt"] != "app" ||
		files(t, solve.LocalMounts["dockerfile"])["Dockerfile"] != "FROM a\n" {
		t.Errorf("a folder: attrs %v", solve.FrontendAttrs)
	}

	solve = newSolve()
	if err := setMainContext(&solve, dir, filepath.Join(dir, "other/Build.df"), nil); err != nil {
		t.Fatal(err)
	}
	if solve.FrontendAttrs["filename"] != "Build.df" || files(t, solve.LocalMounts["dockerfile"])["Build.df"] != "FROM b\n" {
		t.Errorf("a folder and --file: attrs %v", solve.FrontendAttrs)
	}

	// --file -: the Dockerfile from stdin, the context from the folder.
	solve = newSolve()
	if err := setMainContext(&solve, dir, "-", strings.NewReader("FROM stdin\n")); err != nil {
		t.Fatal(err)
	}
	if got := files(t, solve.LocalMounts["dockerfile"]); len(got) != 1 || got["Dockerfile"] != "FROM stdin\n" || solve.FrontendAttrs["filename"] != "Dockerfile" {
		t.Errorf("--file -: sends %v, attrs %v", got, solve.FrontendAttrs)
	}
	if files(t, solve.LocalMounts["context"])["app.txt"] != "app" {
		t.Errorf("--file -: the folder is not the context")
	}

	solve = newSolve()
	if err := setMainContext(&solve, dir, filepath.Join(dir, "nope"), nil); err == nil || !strings.Contains(err.Error(), "Dockerfile "+filepath.Join(dir, "nope")) {
		t.Errorf("a missing --file: %v", err)
	}
}

func TestSetMainContextRemote(t *testing.T) {
	local := filepath.Join(t.TempDir(), "Dockerfile.remote")
	if err := os.WriteFile(local, []byte("FROM local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, url, file, stdin string
		attrs                  map[string]string
		dockerfile             string // the Dockerfile sent from here, if any
	}{
		{name: "git", url: "https://example.com/app.git#main:sub",
			attrs: map[string]string{"context": "https://example.com/app.git#main:sub", "filename": "Dockerfile"}},
		{name: "file inside", url: "git@example.com:app.git", file: "build/Dockerfile.ci",
			attrs: map[string]string{"context": "git@example.com:app.git", "filename": "build/Dockerfile.ci"}},
		{name: "tarball", url: "https://example.com/app.tar.gz",
			attrs: map[string]string{"context": "https://example.com/app.tar.gz", "filename": "Dockerfile"}},
		{name: "file here", url: "https://example.com/app.tar.gz", file: local, dockerfile: "FROM local\n",
			attrs: map[string]string{"context": "https://example.com/app.tar.gz", "filename": "Dockerfile.remote", "dockerfilekey": "dockerfile"}},
		{name: "file on stdin", url: "https://example.com/app.git", file: "-", stdin: "FROM stdin\n", dockerfile: "FROM stdin\n",
			attrs: map[string]string{"context": "https://example.com/app.git", "filename": "Dockerfile", "dockerfilekey": "dockerfile"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			solve := newSolve()
			if err := setMainContext(&solve, tc.url, tc.file, strings.NewReader(tc.stdin)); err != nil {
				t.Fatal(err)
			}
			if len(solve.FrontendAttrs) != len(tc.attrs) {
				t.Errorf("attrs %v, want %v", solve.FrontendAttrs, tc.attrs)
			}
			for k, v := range tc.attrs {
				if solve.FrontendAttrs[k] != v {
					t.Errorf("%s = %q, want %q", k, solve.FrontendAttrs[k], v)
				}
			}
			if solve.LocalMounts["context"] != nil {
				t.Errorf("a remote context is sent from here")
			}
			df := solve.LocalMounts["dockerfile"]
			if (df != nil) != (tc.dockerfile != "") || df != nil && files(t, df)[tc.attrs["filename"]] != tc.dockerfile {
				t.Errorf("the Dockerfile sent from here: %v, want %q", df, tc.dockerfile)
			}
		})
	}
}

func tarball(t *testing.T, compress bool, entries map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.Writer = &b
	var gz *gzip.Writer
	if compress {
		gz = gzip.NewWriter(&b)
		w = gz
	}
	tw := tar.NewWriter(w)
	for name, content := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestSetMainContextStdin(t *testing.T) {
	// A tar, compressed or not, is the context, uploaded as BuildKit reads it.
	for _, compress := range []bool{false, true} {
		archive := tarball(t, compress, map[string]string{"Dockerfile": "FROM tar\n", "big": strings.Repeat("x", 4096)})
		for _, file := range []string{"", "sub/Dockerfile"} {
			solve := newSolve()
			if err := setMainContext(&solve, "-", file, bytes.NewReader(archive)); err != nil {
				t.Fatal(err)
			}
			want := "Dockerfile"
			if file != "" {
				want = file
			}
			if !strings.HasPrefix(solve.FrontendAttrs["context"], "http://buildkit-session/") || solve.FrontendAttrs["filename"] != want ||
				len(solve.LocalMounts) != 0 || len(solve.Session) != 1 {
				t.Fatalf("a tar on stdin (gzip %v, --file %q): attrs %v, locals %v, session %v", compress, file, solve.FrontendAttrs, solve.LocalMounts, solve.Session)
			}
			if _, ok := solve.Session[0].(*uploadprovider.Uploader); !ok {
				t.Errorf("the session does not serve the upload: %T", solve.Session[0])
			}
		}
	}

	// Anything else is a Dockerfile, with an empty context.
	solve := newSolve()
	if err := setMainContext(&solve, "-", "", strings.NewReader("FROM stdin\nRUN true\n")); err != nil {
		t.Fatal(err)
	}
	if got := files(t, solve.LocalMounts["dockerfile"]); got["Dockerfile"] != "FROM stdin\nRUN true\n" || solve.FrontendAttrs["filename"] != "Dockerfile" {
		t.Errorf("a Dockerfile on stdin: sends %v, attrs %v", got, solve.FrontendAttrs)
	}
	if got := files(t, solve.LocalMounts["context"]); len(got) != 0 {
		t.Errorf("a Dockerfile on stdin: the context holds %v, want nothing", got)
	}
	if _, ok := solve.FrontendAttrs["context"]; ok {
		t.Errorf("a Dockerfile on stdin names a remote context")
	}

	for _, tc := range []struct{ file, stdin, want string }{
		{"-", "FROM x\n", `build context "-" and --file -: stdin cannot hold both`},
		{"Dockerfile", "FROM x\n", `build context "-" is a Dockerfile and --file names Dockerfile`},
		{"", "", `build context "-": stdin is empty`},
	} {
		solve := newSolve()
		if err := setMainContext(&solve, "-", tc.file, strings.NewReader(tc.stdin)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("- with --file %q and stdin %q: %v, want %q", tc.file, tc.stdin, err, tc.want)
		}
	}
}

// TestFileFS: the Dockerfile read from stdin is a folder of that one file,
// as fsutil's filters see it.
func TestFileFS(t *testing.T) {
	fs := &fileFS{name: "Dockerfile", data: []byte("FROM x\n")}
	filtered, err := fsutil.NewFilterFS(fs, &fsutil.FilterOpt{FollowPaths: []string{"Dockerfile", "Dockerfile.dockerignore"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := files(t, filtered); len(got) != 1 || got["Dockerfile"] != "FROM x\n" {
		t.Errorf("sends %v", got)
	}
	if _, err := fs.Open("Dockerfile.dockerignore"); !os.IsNotExist(err) {
		t.Errorf("open of another file: %v, want not found", err)
	}
}
