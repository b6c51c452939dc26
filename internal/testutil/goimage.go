package testutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// GoImage stands in for the golang image a Dockerfile builds Go with: this
// machine's Go (what of GOROOT a build needs) on the busybox base, with the
// CA certificates, and a module cache holding the source files the static
// build of pkg (a package pattern of the current module, for linux on each
// of goarchs, default this machine's architecture) compiles. The image is
// for this machine's platform only: a Dockerfile's Go stage "FROM
// --platform=$BUILDPLATFORM" runs on it and cross-compiles for the target
// platform, so it needs no image of another architecture and no emulation.
// Its go command reads this machine's build cache, served by the
// test process on loopback (ServeGoCaches, caches.URL), through a
// GOCACHEPROG, and fetches any other module from this machine's module
// cache there (GOPROXY): a build of pkg in BuildKit then compiles only what
// this machine has not compiled already (with -trimpath and CGO_ENABLED=0, as
// go test's docker-secure is) and downloads nothing, where an empty cache
// mount downloaded and compiled everything, for minutes on 2 cores. The RUN
// steps of buildkitd's OCI worker run on the host's network, so loopback is
// this machine's. For an architecture other than this machine's, pkg is
// compiled here first (WarmGoCache), so that the cache holds its compiles
// too.
func GoImage(t testing.TB, caches *GoCaches, pkg string, goarchs ...string) v1.Image {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	if len(goarchs) == 0 {
		goarchs = []string{runtime.GOARCH}
	}
	var std, modules []string
	var modCache string
	for _, goarch := range goarchs {
		if goarch != runtime.GOARCH {
			WarmGoCache(t, pkg, goarch)
		}
		s, m, mc := buildFiles(t, pkg, goroot, goarch)
		std, modules, modCache = append(std, s...), append(modules, m...), mc
	}
	const certs = "/etc/ssl/certs/ca-certificates.crt"
	certData, err := os.ReadFile(certs)
	if err != nil {
		RequireE2E(t, "no %s (apt-get install ca-certificates): %v", certs, err)
	}
	layers := []v1.Layer{
		BusyboxLayer(t, "ID=secure-build-test\nNAME=\"Go on busybox\"\n"),
		gorootLayer(t, goroot, std),
		DirLayer(t, modCache, strings.TrimPrefix(goImageModCache, "/"), moduleCacheSkip(modules)),
		FileLayer(t, map[string][]byte{
			strings.TrimPrefix(certs, "/"): certData,
			"usr/local/bin/go-cacheprog":   goCacheProg(t),
		}),
	}
	return Image(t, v1.Config{
		Env: []string{
			"PATH=/usr/local/go/bin:/go/bin:/usr/local/bin:/bin",
			"GOPATH=/go",
			// Not GOPATH's pkg/mod, where the Dockerfile mounts a cache.
			"GOMODCACHE=" + goImageModCache,
			// Modules this machine has not fetched still come from the
			// public proxy, as from the real golang image.
			"GOPROXY=" + caches.URL + "/mod,https://proxy.golang.org",
			"GOCACHEPROG=/usr/local/bin/go-cacheprog " + caches.URL,
		},
		WorkingDir: "/go",
	}, layers...)
}

// goImageModCache is the Go image's module cache.
const goImageModCache = "/usr/local/go-modcache"

// WarmGoCache compiles pkg, static and with -trimpath, for linux/goarch on
// this machine, without linking, so that this machine's build cache (which
// GoImage's go command reads) holds what a Dockerfile's build of pkg for
// that platform compiles. The first time on a machine it is a whole
// compile; then only what changed.
func WarmGoCache(t testing.TB, pkg, goarch string) {
	t.Helper()
	// "go list -export" runs the same compile actions as "go build".
	list := exec.Command("go", "list", "-trimpath", "-export", "-deps", "-f", "{{if .Error}}{{.Error}}{{end}}", pkg)
	list.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=-buildvcs=false")
	if out, err := list.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("compile %s for linux/%s: %v\n%s", pkg, goarch, err, out)
	}
}

// buildFiles lists the files pkg's static build for linux/goarch compiles or
// embeds: those of the standard library, relative to GOROOT, and those of
// modules, relative to the module cache, which it returns.
func buildFiles(t testing.TB, pkg, goroot, goarch string) (std, modules []string, modCache string) {
	t.Helper()
	list := exec.Command("go", "list", "-deps", "-f",
		`{{if not (and .Module .Module.Main)}}{{$d := .Dir}}`+
			`{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .SFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}`+
			`{{range .HFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`, pkg)
	list.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	env, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	modCache = strings.TrimSpace(string(env))
	for _, file := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(goroot, file); err == nil && !strings.HasPrefix(rel, "..") {
			std = append(std, filepath.ToSlash(rel))
		} else if rel, err := filepath.Rel(modCache, file); err == nil && !strings.HasPrefix(rel, "..") {
			modules = append(modules, filepath.ToSlash(rel))
		} else {
			t.Fatalf("%s is neither in GOROOT %s nor in the module cache %s", file, goroot, modCache)
		}
	}
	return std, modules, modCache
}

// gorootLayer is GOROOT at /usr/local/go with what a build needs: the go
// command, the compiler, assembler and linker, and of the standard
// library's sources those of std (relative to GOROOT): about a quarter of
// GOROOT, which the test makes and BuildKit unpacks on every run.
func gorootLayer(t testing.TB, goroot string, std []string) v1.Layer {
	t.Helper()
	tools := "pkg/tool/" + runtime.GOOS + "_" + runtime.GOARCH
	keep := keepSet(append(std, "bin/go", "go.env", "VERSION", "src/go.mod", "src/go.sum", "src/vendor/modules.txt",
		tools+"/compile", tools+"/asm", tools+"/link", tools+"/cgo"))
	return DirLayer(t, goroot, "usr/local/go", func(rel string) bool {
		return !keep[rel] && rel != "pkg/include" && !strings.HasPrefix(rel, "pkg/include/") && rel != "lib" && !strings.HasPrefix(rel, "lib/")
	})
}

// moduleCacheSkip keeps, of a module cache, the files (relative to it) and
// the module metadata (without the zips): about 40 MB of the frontend's
// modules, where their whole trees are over a GB.
func moduleCacheSkip(files []string) func(rel string) bool {
	keep := keepSet(files)
	return func(rel string) bool {
		if download, ok := strings.CutPrefix(rel, "cache/download/"); ok {
			return strings.HasSuffix(download, ".zip") || strings.HasSuffix(download, ".lock")
		}
		return rel != "cache" && rel != "cache/download" && !keep[rel]
	}
}

// keepSet is the files and the folders they are in.
func keepSet(files []string) map[string]bool {
	keep := map[string]bool{}
	for _, f := range files {
		for p := f; p != "."; p = path.Dir(p) {
			keep[p] = true
		}
	}
	return keep
}

// FileLayer is a layer holding files (path in the image: content), each
// executable by all, with their folders.
func FileLayer(t testing.TB, files map[string][]byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var parents []string
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: baseTime}); err != nil {
					t.Fatal(err)
				}
			}
		}
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body)), ModTime: baseTime}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// GoCaches serves this machine's Go module cache (as a GOPROXY) and build
// cache (to go-cacheprog), read-only, on loopback.
type GoCaches struct {
	URL string // http://127.0.0.1:PORT
}

// ServeGoCaches serves the caches of "go env" until the test ends.
func ServeGoCaches(t testing.TB) *GoCaches {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 2 {
		t.Fatalf("go env GOMODCACHE GOCACHE: %q", out)
	}
	modCache, buildCache := dirs[0], dirs[1]
	mux := http.NewServeMux()
	// The module cache's download folder is laid out as the GOPROXY protocol.
	mux.Handle("/mod/", http.StripPrefix("/mod/", http.FileServer(http.Dir(filepath.Join(modCache, "cache", "download")))))
	// An action entry of cmd/go's disk cache ("v1 <action> <output> <size>
	// <time>"), answered as "<output> <size> <time>".
	mux.HandleFunc("/action/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(buildCache, id[:2], id+"-a"))
		f := strings.Fields(string(b))
		if err != nil || len(f) != 5 || f[0] != "v1" || f[1] != id {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%s %s %s", f[2], f[3], f[4])
	})
	mux.HandleFunc("/output/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(buildCache, id[:2], id+"-d"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &GoCaches{URL: "http://" + ln.Addr().String()}
}

// goCacheProg builds go-cacheprog, static, for the image.
func goCacheProg(t testing.TB) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(goCacheProgSource), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "go-cacheprog")
	build := exec.Command("go", "build", "-o", exe, "main.go")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build go-cacheprog: %v\n%s", err, out)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goCacheProgSource is a GOCACHEPROG (the protocol of cmd/go's
// internal/cacheprog): a get is answered from what this build put, else
// from the test machine's cache at the URL of its argument; a put is kept
// in a folder of its own, never sent back.
const goCacheProgSource = `package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type request struct {
	ID       int64
	Command  string
	ActionID []byte
	OutputID []byte
	BodySize int64
}

type response struct {
	ID            int64
	Err           string     ` + "`json:\",omitempty\"`" + `
	KnownCommands []string   ` + "`json:\",omitempty\"`" + `
	Miss          bool       ` + "`json:\",omitempty\"`" + `
	OutputID      []byte     ` + "`json:\",omitempty\"`" + `
	Size          int64      ` + "`json:\",omitempty\"`" + `
	Time          *time.Time ` + "`json:\",omitempty\"`" + `
	DiskPath      string     ` + "`json:\",omitempty\"`" + `
}

func main() {
	base := os.Args[1]
	dir, err := os.MkdirTemp("", "go-cacheprog")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	put := map[string]response{}
	out := json.NewEncoder(os.Stdout)
	out.Encode(response{KnownCommands: []string{"get", "put", "close"}})
	in := json.NewDecoder(bufio.NewReader(os.Stdin))
	for {
		var req request
		if err := in.Decode(&req); err != nil {
			return
		}
		resp := response{ID: req.ID}
		action := hex.EncodeToString(req.ActionID)
		switch req.Command {
		case "put":
			var body []byte
			if req.BodySize > 0 {
				if err := in.Decode(&body); err != nil {
					return
				}
			}
			path := filepath.Join(dir, hex.EncodeToString(req.OutputID))
			if err := os.WriteFile(path, body, 0o644); err != nil {
				resp.Err = err.Error()
				break
			}
			now := time.Now()
			resp.DiskPath = path
			put[action] = response{OutputID: req.OutputID, Size: int64(len(body)), Time: &now, DiskPath: path}
		case "get":
			if p, ok := put[action]; ok {
				p.ID = req.ID
				resp = p
				break
			}
			if err := fetch(base, dir, action, &resp); err != nil {
				resp.Miss = true
			}
		case "close":
			out.Encode(resp)
			return
		default:
			resp.Err = "unknown command " + req.Command
		}
		out.Encode(resp)
	}
}

// fetch reads an entry of the machine's cache into dir.
func fetch(base, dir, action string, resp *response) error {
	entry, err := get(base + "/action/" + action)
	if err != nil {
		return err
	}
	f := strings.Fields(string(entry))
	if len(f) != 3 {
		return fmt.Errorf("entry %q", entry)
	}
	output, err := hex.DecodeString(f[0])
	if err != nil {
		return err
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return err
	}
	nanos, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return err
	}
	body, err := get(base + "/output/" + f[0])
	if err != nil || int64(len(body)) != size {
		return fmt.Errorf("output %s: %v", f[0], err)
	}
	path := filepath.Join(dir, f[0])
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return err
	}
	when := time.Unix(0, nanos)
	resp.OutputID, resp.Size, resp.Time, resp.DiskPath = output, size, &when, path
	return nil
}

func get(url string) ([]byte, error) {
	r, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, r.Status)
	}
	return io.ReadAll(r.Body)
}
`
