package build

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/session/upload/uploadprovider"
	"github.com/moby/buildkit/util/archiveutil"
	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"
)

// Stdin is the build context or the --file that reads standard input.
const Stdin = "-"

// The frontend's names for the main context and the Dockerfile: local
// inputs, or the attribute that names a remote context.
const (
	contextName    = "context"
	dockerfileName = "dockerfile"
)

// contextKind is where a build context comes from.
type contextKind int

const (
	localContext  contextKind = iota // a folder on this machine
	remoteContext                    // a Git repository or an http(s) URL, fetched by BuildKit
	stdinContext                     // "-": a tar, or a Dockerfile with an empty context
)

// kindOf tells a build context's kind as docker buildx build does: "-", a
// folder (it wins over a name that looks like a URL), a Git repository or an
// http(s) URL. Anything else is an error naming the path.
func kindOf(path string) (contextKind, error) {
	if path == "" {
		return 0, errors.New(`no build context given ("." is the current folder)`)
	}
	if path == Stdin {
		return stdinContext, nil
	}
	fi, statErr := os.Stat(path)
	if statErr == nil && fi.IsDir() {
		return localContext, nil
	}
	if _, isGit, err := dfgitutil.ParseGitRef(path); isGit {
		if err != nil {
			return 0, fmt.Errorf("build context %q: %w", path, err)
		}
		return remoteContext, nil
	}
	if strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://") {
		return remoteContext, nil
	}
	switch {
	case statErr == nil:
		return 0, fmt.Errorf("unable to prepare context: path %q is not a directory (a tar archive of the context is read from stdin: build - < %s)", path, path)
	case errors.Is(statErr, iofs.ErrNotExist):
		return 0, fmt.Errorf("unable to prepare context: path %q not found", path)
	}
	return 0, fmt.Errorf("unable to prepare context: %w", statErr)
}

// setMainContext sets the build context and the Dockerfile of solve as
// docker buildx build does:
//   - a folder is sent from this machine, with PATH/Dockerfile or --file;
//   - a Git repository (https://host/repo.git#ref:subdir, git@host:repo.git,
//     git://...) or an http(s) URL of a tarball is named to BuildKit, which
//     fetches it and reads the Dockerfile from it: --file names one inside
//     it, or an absolute path on this machine;
//   - "-" reads stdin: a tar of the context (compressed or not), or a
//     Dockerfile with an empty context.
//
// --file - reads the Dockerfile from stdin.
func setMainContext(solve *client.SolveOpt, path, dockerfile string, stdin io.Reader) error {
	kind, err := kindOf(path)
	if err != nil {
		return err
	}
	switch kind {
	case localContext:
		return setLocalContext(solve, path, dockerfile, stdin)
	case remoteContext:
		solve.FrontendAttrs[contextName] = path
		return setContextDockerfile(solve, dockerfile, stdin)
	}
	return setStdinContext(solve, dockerfile, stdin)
}

func setLocalContext(solve *client.SolveOpt, dir, dockerfile string, stdin io.Reader) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("build context %s: %w", dir, err)
	}
	ctxFS, err := fsutil.NewFS(abs)
	if err != nil {
		return fmt.Errorf("build context %s: %w", dir, err)
	}
	solve.LocalMounts[contextName] = ctxFS
	if dockerfile == Stdin {
		return setStdinDockerfile(solve, stdin)
	}
	if dockerfile == "" {
		dockerfile = filepath.Join(abs, "Dockerfile")
	}
	return setLocalDockerfile(solve, dockerfile)
}

// setContextDockerfile names the Dockerfile of a context that BuildKit
// fetches: a path inside it (Dockerfile by default), else stdin or an
// absolute path on this machine.
func setContextDockerfile(solve *client.SolveOpt, dockerfile string, stdin io.Reader) error {
	switch {
	case dockerfile == Stdin:
		solve.FrontendAttrs["dockerfilekey"] = dockerfileName
		return setStdinDockerfile(solve, stdin)
	case filepath.IsAbs(dockerfile):
		solve.FrontendAttrs["dockerfilekey"] = dockerfileName
		return setLocalDockerfile(solve, dockerfile)
	case dockerfile != "":
		solve.FrontendAttrs["filename"] = filepath.ToSlash(dockerfile)
	default:
		solve.FrontendAttrs["filename"] = "Dockerfile"
	}
	return nil
}

func setLocalDockerfile(solve *client.SolveOpt, dockerfile string) error {
	if _, err := os.Stat(dockerfile); err != nil {
		return fmt.Errorf("Dockerfile %s: %w", dockerfile, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dockerfile))
	if err != nil {
		return fmt.Errorf("Dockerfile %s: %w", dockerfile, err)
	}
	solve.LocalMounts[dockerfileName] = dfFS
	solve.FrontendAttrs["filename"] = filepath.Base(dockerfile)
	return nil
}

// setStdinDockerfile sends the Dockerfile read from stdin.
func setStdinDockerfile(solve *client.SolveOpt, stdin io.Reader) error {
	if stdin == nil {
		return errors.New("--file -: no standard input to read the Dockerfile from")
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("read the Dockerfile from stdin: %w", err)
	}
	solve.LocalMounts[dockerfileName] = &fileFS{name: "Dockerfile", data: data, modTime: time.Now()}
	solve.FrontendAttrs["filename"] = "Dockerfile"
	return nil
}

// archivePeek is how much of stdin tells a tar from a Dockerfile, as
// buildx peeks: two tar blocks.
const archivePeek = 1024

// setStdinContext reads the build context "-": a tar (compressed or not)
// is uploaded to BuildKit as it reads it, the Dockerfile in it; anything
// else is a Dockerfile, built with an empty context.
func setStdinContext(solve *client.SolveOpt, dockerfile string, stdin io.Reader) error {
	if dockerfile == Stdin {
		return errors.New(`build context "-" and --file -: stdin cannot hold both the context and the Dockerfile`)
	}
	if stdin == nil {
		return errors.New(`build context "-": no standard input to read it from`)
	}
	in := bufio.NewReaderSize(stdin, archivePeek)
	head, err := in.Peek(archivePeek)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf(`build context "-": read stdin: %w`, err)
	}
	if len(head) == 0 {
		return errors.New(`build context "-": stdin is empty; want a tar of the build context, or a Dockerfile`)
	}
	if archiveutil.IsArchive(head) {
		uploads := uploadprovider.New()
		solve.FrontendAttrs[contextName] = uploads.Add(io.NopCloser(in))
		solve.Session = append(solve.Session, uploads)
		return setContextDockerfile(solve, dockerfile, nil)
	}
	if dockerfile != "" {
		return fmt.Errorf(`build context "-" is a Dockerfile and --file names %s: give one of them`, dockerfile)
	}
	empty, err := fsutil.SubDirFS(nil)
	if err != nil {
		return fmt.Errorf("empty build context: %w", err)
	}
	solve.LocalMounts[contextName] = empty
	return setStdinDockerfile(solve, in)
}

// fileFS is a folder holding one file in memory: a Dockerfile read from
// stdin, sent to BuildKit as the dockerfile input.
type fileFS struct {
	name    string
	data    []byte
	modTime time.Time
}

func (f *fileFS) Walk(ctx context.Context, target string, fn iofs.WalkDirFunc) error {
	// fsutil's sender walks from "/".
	if t := strings.Trim(filepath.ToSlash(target), "/"); t != "" && t != "." && t != f.name {
		return nil
	}
	stat := &types.Stat{Path: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: f.modTime.UnixNano()}
	return fn(f.name, &fsutil.DirEntryInfo{Stat: stat}, nil)
}

func (f *fileFS) Open(p string) (io.ReadCloser, error) {
	if filepath.Clean(p) != f.name {
		return nil, &iofs.PathError{Op: "open", Path: p, Err: iofs.ErrNotExist}
	}
	return io.NopCloser(bytes.NewReader(f.data)), nil
}
