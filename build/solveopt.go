// Package build turns a build's flags into BuildKit's solve options, as
// buildx's build package does: outputs and attestations parsed, the
// exports a given builder needs, local and OCI layout contexts, the inputs
// secure-build's frontend reads, the scan step's program for the builder's
// platform, and outputs put into place only once the build passed.
package build

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/moby/buildkit/client"
	buildctl "github.com/moby/buildkit/cmd/buildctl/build"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/tonistiigi/fsutil"
)

// Options are a build's inputs as docker buildx build takes them, less its
// outputs (see ParseOutputs).
type Options struct {
	// ContextPath is the build context: a folder, a Git or http(s) URL, or
	// "-" for stdin (see setMainContext). Dockerfile defaults to the
	// Dockerfile in it; "-" reads it from stdin.
	ContextPath string
	Dockerfile  string
	// Stdin is what "-" reads.
	Stdin  io.Reader
	Target string
	// BuildArgs are name=value, or a bare name taking its value from the
	// environment.
	BuildArgs     []string
	BuildContexts []string
	Platforms     []string
	Labels        []string
	Secrets       []string
	SSH           []string
	Network       string
	Allow         []string
	NoCache       bool
	Pull          bool
	CacheFrom     []string
	CacheTo       []string
	// Attests are --attest; Provenance and SBOM their shorthands.
	Attests    []string
	Provenance string
	SBOM       string
	// Config holds the registry credentials the builder pulls and pushes with.
	Config *configfile.ConfigFile
}

// NewSolveOpt turns opts into BuildKit's solve options, without exports.
func NewSolveOpt(opts Options) (client.SolveOpt, error) {
	solve := client.SolveOpt{
		LocalMounts:   map[string]fsutil.FS{},
		OCIStores:     map[string]content.Store{},
		FrontendAttrs: map[string]string{},
	}
	if err := setMainContext(&solve, opts.ContextPath, opts.Dockerfile, opts.Stdin); err != nil {
		return client.SolveOpt{}, err
	}
	attrs := solve.FrontendAttrs
	if opts.Target != "" {
		attrs["target"] = opts.Target
	}
	for _, kv := range opts.BuildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			// As docker does: a bare name takes the value from the environment.
			v, ok = os.LookupEnv(k)
			if !ok {
				continue
			}
		}
		attrs["build-arg:"+k] = v
	}
	for _, kv := range opts.Labels {
		k, v, _ := strings.Cut(kv, "=")
		attrs["label:"+k] = v
	}
	if len(opts.Platforms) > 0 {
		attrs["platform"] = strings.Join(opts.Platforms, ",")
	}
	if opts.NoCache {
		attrs["no-cache"] = ""
	}
	if opts.Pull {
		attrs["image-resolve-mode"] = "pull"
	}
	if opts.Network != "" && opts.Network != "default" {
		attrs["force-network-mode"] = opts.Network
	}
	if err := addAttests(attrs, opts.Attests, opts.Provenance, opts.SBOM); err != nil {
		return client.SolveOpt{}, err
	}
	if err := addBuildContexts(&solve, opts.BuildContexts); err != nil {
		return client.SolveOpt{}, err
	}

	if err := buildctl.ValidateAllow(opts.Allow); err != nil {
		return client.SolveOpt{}, fmt.Errorf("--allow: %w", err)
	}
	solve.AllowedEntitlements = opts.Allow
	var err error
	if solve.CacheImports, err = buildctl.ParseImportCache(opts.CacheFrom); err != nil {
		return client.SolveOpt{}, fmt.Errorf("--cache-from: %w", err)
	}
	if solve.CacheExports, err = buildctl.ParseExportCache(opts.CacheTo); err != nil {
		return client.SolveOpt{}, fmt.Errorf("--cache-to: %w", err)
	}

	solve.Session = append(solve.Session, authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(opts.Config),
	}))
	if len(opts.Secrets) > 0 {
		secrets, err := buildctl.ParseSecret(opts.Secrets)
		if err != nil {
			return client.SolveOpt{}, fmt.Errorf("--secret: %w", err)
		}
		solve.Session = append(solve.Session, secrets)
	}
	if len(opts.SSH) > 0 {
		configs, err := buildctl.ParseSSH(opts.SSH)
		if err != nil {
			return client.SolveOpt{}, fmt.Errorf("--ssh: %w", err)
		}
		agent, err := sshprovider.NewSSHAgentProvider(configs)
		if err != nil {
			return client.SolveOpt{}, fmt.Errorf("--ssh: %w", err)
		}
		solve.Session = append(solve.Session, agent)
	}
	return solve, nil
}

// addBuildContexts adds --build-context name=value: a folder is sent as a
// local input; oci-layout://PATH[:TAG][@DIGEST] is read from the layout on
// this machine; docker-image://, git and https URLs are passed to BuildKit.
func addBuildContexts(solve *client.SolveOpt, contexts []string) error {
	for _, kv := range contexts {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" || value == "" {
			return fmt.Errorf("--build-context %q: want name=value", kv)
		}
		key := "context:" + name
		switch {
		case strings.HasPrefix(value, "oci-layout://"):
			// The store's id is a plain name of our own: the context's name
			// may be an image reference (golang:1.26@sha256:...).
			storeID := fmt.Sprintf("oci-layout-%d", len(solve.OCIStores))
			ref, store, err := ociLayoutContext(storeID, strings.TrimPrefix(value, "oci-layout://"))
			if err != nil {
				return fmt.Errorf("--build-context %s: %w", kv, err)
			}
			solve.OCIStores[storeID] = store
			solve.FrontendAttrs[key] = "oci-layout://" + ref
		case strings.Contains(value, "://") || strings.HasPrefix(value, "git@"):
			solve.FrontendAttrs[key] = value
		default:
			fs, err := fsutil.NewFS(value)
			if err != nil {
				return fmt.Errorf("--build-context %s: %w", kv, err)
			}
			solve.LocalMounts[name] = fs
			solve.FrontendAttrs[key] = "local:" + name
		}
	}
	return nil
}

// ociLayoutContext opens an OCI layout as a content store and names the
// image in it for BuildKit, which needs the digest: given, or read from the
// layout's index by tag (or the only manifest when no tag is given).
func ociLayoutContext(storeID, spec string) (string, content.Store, error) {
	path, dgst, _ := strings.Cut(spec, "@")
	tag := ""
	if i := strings.LastIndex(path, ":"); i > strings.LastIndex(path, "/") {
		path, tag = path[:i], path[i+1:]
	}
	if dgst == "" {
		var err error
		if dgst, err = layoutDigest(path, tag); err != nil {
			return "", nil, err
		}
		// Chosen without a digest: sent under its tag (latest for the
		// layout's only image, as buildx sends it), so that the policy's
		// pinning rule sees that the user pinned nothing.
		if tag == "" {
			tag = "latest"
		}
	}
	store, err := local.NewStore(path)
	if err != nil {
		return "", nil, fmt.Errorf("OCI layout %s: %w", path, err)
	}
	ref := storeID
	if tag != "" {
		ref += ":" + tag
	}
	return ref + "@" + dgst, store, nil
}

func layoutDigest(path, tag string) (string, error) {
	b, err := os.ReadFile(filepath.Join(path, "index.json"))
	if err != nil {
		return "", fmt.Errorf("OCI layout %s: %w", path, err)
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		return "", fmt.Errorf("OCI layout %s: index.json: %w", path, err)
	}
	var found []string
	for _, m := range index.Manifests {
		if tag == "" || m.Annotations["org.opencontainers.image.ref.name"] == tag {
			found = append(found, m.Digest)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case tag != "":
		return "", fmt.Errorf("OCI layout %s: %d images tagged %q", path, len(found), tag)
	}
	return "", fmt.Errorf("OCI layout %s holds %d images: name one with :TAG or @DIGEST", path, len(found))
}
