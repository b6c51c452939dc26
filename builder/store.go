package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/cli/cli/config"
)

// buildxStore reads the builders "docker buildx create" and "docker buildx
// use" leave in the Docker config folder (DOCKER_CONFIG/buildx, or
// BUILDX_CONFIG): one JSON file a builder under instances/, and in current
// the active builder. It only reads: buildx owns the folder.
type buildxStore struct {
	dir string
}

// buildxBuilder is a builder as buildx saves it; only the fields a build
// needs are read.
type buildxBuilder struct {
	Name   string
	Driver string
	Nodes  []buildxNode
}

// buildxNode is one BuildKit of a builder: for the docker and
// docker-container drivers, Endpoint is a Docker context name or a Docker
// host; for remote, the BuildKit address. DriverOpts holds the remote
// driver's TLS files (cacert, cert, key, servername).
type buildxNode struct {
	Name       string
	Endpoint   string
	DriverOpts map[string]string
}

// defaultBuildxStore is the store of the Docker config in use.
func defaultBuildxStore() buildxStore {
	if dir := os.Getenv("BUILDX_CONFIG"); dir != "" {
		return buildxStore{dir: dir}
	}
	return buildxStore{dir: filepath.Join(config.Dir(), "buildx")}
}

// builder reads the builder called name; it returns nil and no error when
// there is none. Names are stored lowercase, as buildx stores them.
func (s buildxStore) builder(name string) (*buildxBuilder, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return nil, nil
	}
	path := filepath.Join(s.dir, "instances", strings.ToLower(name))
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read buildx builder %s: %w", path, err)
	}
	var bb buildxBuilder
	if err := json.Unmarshal(b, &bb); err != nil {
		return nil, fmt.Errorf("read buildx builder %s: %w", path, err)
	}
	return &bb, nil
}

// builders lists the stored builders with their drivers, sorted by name.
func (s buildxStore) builders() ([]buildxBuilder, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "instances"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read buildx store %s: %w", s.dir, err)
	}
	var out []buildxBuilder
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := s.builder(e.Name())
		if err != nil {
			return nil, err
		}
		if b != nil {
			out = append(out, *b)
		}
	}
	slices.SortFunc(out, func(a, b buildxBuilder) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// active is the builder "docker buildx use" made current for the Docker
// endpoint key (the context name, or the daemon host for the default
// context), or "" when none was. buildx keeps the last "use" in current
// (global, or for one key) and, with --default, a per-key default under
// defaults/ named by the key's hash.
func (s buildxStore) active(key string) (string, error) {
	path := filepath.Join(s.dir, "current")
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("read the active buildx builder %s: %w", path, err)
	default:
		var cur struct {
			Key    string
			Name   string
			Global bool
		}
		if err := json.Unmarshal(b, &cur); err != nil {
			return "", fmt.Errorf("read the active buildx builder %s: %w", path, err)
		}
		if cur.Name != "" && (cur.Global || cur.Key == key) {
			return cur.Name, nil
		}
	}
	sum := sha256.Sum256([]byte(key))
	path = filepath.Join(s.dir, "defaults", hex.EncodeToString(sum[:])[:20])
	b, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the default buildx builder %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}
