package plugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/docker/cli/cli/command"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/cmd/buildctl/build"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	dockerclient "github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/go-csvvalue"
)

// newSolveOpt turns the flags into BuildKit's solve options. done finishes
// the file outputs: on success each is renamed into place, otherwise removed,
// so a failed build leaves no half-written file and keeps the old one.
func newSolveOpt(ctx context.Context, dockerCli command.Cli, opts buildOptions, target exportTarget) (client.SolveOpt, func(ok bool) error, error) {
	noop := func(bool) error { return nil }
	contextDir, err := filepath.Abs(opts.contextPath)
	if err != nil {
		return client.SolveOpt{}, noop, fmt.Errorf("build context %s: %w", opts.contextPath, err)
	}
	if fi, err := os.Stat(contextDir); err != nil || !fi.IsDir() {
		return client.SolveOpt{}, noop, fmt.Errorf("build context %s: not a directory (URLs and - are not supported yet)", opts.contextPath)
	}
	dockerfile := opts.file
	if dockerfile == "" {
		dockerfile = filepath.Join(contextDir, "Dockerfile")
	}
	if _, err := os.Stat(dockerfile); err != nil {
		return client.SolveOpt{}, noop, fmt.Errorf("Dockerfile %s: %w", dockerfile, err)
	}
	ctxFS, err := fsutil.NewFS(contextDir)
	if err != nil {
		return client.SolveOpt{}, noop, fmt.Errorf("build context %s: %w", contextDir, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dockerfile))
	if err != nil {
		return client.SolveOpt{}, noop, fmt.Errorf("Dockerfile %s: %w", dockerfile, err)
	}
	solve := client.SolveOpt{
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		OCIStores:     map[string]content.Store{},
		FrontendAttrs: map[string]string{"filename": filepath.Base(dockerfile)},
	}
	attrs := solve.FrontendAttrs
	if opts.target != "" {
		attrs["target"] = opts.target
	}
	for _, kv := range opts.buildArgs {
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
	if opts.failOn != "" {
		attrs["build-arg:SECURE_BUILD_FAIL_ON"] = opts.failOn
	}
	if _, set := attrs["build-arg:SECURE_BUILD_MAX_DB_AGE"]; !set && opts.db.maxAge != vuln.DefaultMaxAge {
		attrs["build-arg:SECURE_BUILD_MAX_DB_AGE"] = opts.db.maxAge.String()
	}
	if opts.onlyFixable != "" {
		attrs["build-arg:SECURE_BUILD_ONLY_FIXABLE"] = opts.onlyFixable
	}
	if opts.incomplete != "" {
		attrs["build-arg:SECURE_BUILD_INCOMPLETE"] = opts.incomplete
	}
	// The image's names, for VEX statements about the image as a whole.
	if _, given := attrs["build-arg:SECURE_BUILD_IMAGE"]; !given && len(opts.tags) > 0 {
		attrs["build-arg:SECURE_BUILD_IMAGE"] = strings.Join(opts.tags, ",")
	}
	for _, kv := range opts.labels {
		k, v, _ := strings.Cut(kv, "=")
		attrs["label:"+k] = v
	}
	if len(opts.platforms) > 0 {
		attrs["platform"] = strings.Join(opts.platforms, ",")
	}
	if opts.noCache {
		attrs["no-cache"] = ""
	}
	if opts.pull {
		attrs["image-resolve-mode"] = "pull"
	}
	if opts.network != "" && opts.network != "default" {
		attrs["force-network-mode"] = opts.network
	}
	if err := addAttests(attrs, opts); err != nil {
		return client.SolveOpt{}, noop, err
	}
	if err := addBuildContexts(&solve, opts.buildContexts); err != nil {
		return client.SolveOpt{}, noop, err
	}
	// The local database, unless the build names one: a context, or an
	// image by the build arg.
	_, named := attrs["context:"+frontend.DBContext]
	_, image := attrs["build-arg:SECURE_BUILD_DB_IMAGE"]
	if !named && !image {
		if err := addDatabase(&solve, opts.db); err != nil {
			return client.SolveOpt{}, noop, err
		}
	}

	if err := addPolicy(&solve, opts.policyFile); err != nil {
		return client.SolveOpt{}, noop, err
	}

	if err := build.ValidateAllow(opts.allow); err != nil {
		return client.SolveOpt{}, noop, fmt.Errorf("--allow: %w", err)
	}
	solve.AllowedEntitlements = opts.allow
	if solve.CacheImports, err = build.ParseImportCache(opts.cacheFrom); err != nil {
		return client.SolveOpt{}, noop, fmt.Errorf("--cache-from: %w", err)
	}
	if solve.CacheExports, err = build.ParseExportCache(opts.cacheTo); err != nil {
		return client.SolveOpt{}, noop, fmt.Errorf("--cache-to: %w", err)
	}

	solve.Session = append(solve.Session, authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(dockerCli.ConfigFile()),
	}))
	if len(opts.secrets) > 0 {
		secrets, err := build.ParseSecret(opts.secrets)
		if err != nil {
			return client.SolveOpt{}, noop, fmt.Errorf("--secret: %w", err)
		}
		solve.Session = append(solve.Session, secrets)
	}
	if len(opts.ssh) > 0 {
		configs, err := build.ParseSSH(opts.ssh)
		if err != nil {
			return client.SolveOpt{}, noop, fmt.Errorf("--ssh: %w", err)
		}
		agent, err := sshprovider.NewSSHAgentProvider(configs)
		if err != nil {
			return client.SolveOpt{}, noop, fmt.Errorf("--ssh: %w", err)
		}
		solve.Session = append(solve.Session, agent)
	}

	exports, done, err := parseOutputs(ctx, dockerCli, opts, target)
	if err != nil {
		return client.SolveOpt{}, noop, err
	}
	solve.Exports = exports
	return solve, done, nil
}

// addAttests maps --attest, --provenance and --sbom to the frontend's
// attest: options, and asks for minimal provenance by default, as buildx
// does. An SBOM request is served by secure-build's own scan: the frontend
// never runs BuildKit's default generator.
func addAttests(attrs map[string]string, opts buildOptions) error {
	for _, a := range opts.attests {
		fields, err := csvvalue.Fields(a, nil)
		if err != nil {
			return fmt.Errorf("--attest %q: %w", a, err)
		}
		var typ string
		var rest []string
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "type="); ok {
				typ = v
				continue
			}
			rest = append(rest, f)
		}
		if typ == "" {
			return fmt.Errorf("--attest %q: type= is required (sbom or provenance)", a)
		}
		attrs["attest:"+typ] = strings.Join(rest, ",")
	}
	for typ, v := range map[string]string{"provenance": opts.provenance, "sbom": opts.sbom} {
		switch v {
		case "":
		case "false", "0":
			delete(attrs, "attest:"+typ)
		case "true", "1":
			attrs["attest:"+typ] = ""
		default:
			attrs["attest:"+typ] = v
		}
	}
	if _, ok := attrs["attest:provenance"]; !ok && opts.provenance == "" {
		attrs["attest:provenance"] = "mode=min"
	}
	return nil
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

// addDatabase sends the local vulnerability database as the context
// secure-build-db, only its archive files. A missing one stops the build
// before it starts, saying how to get one.
func addDatabase(solve *client.SolveOpt, flags dbFlags) error {
	dir, err := flags.resolve()
	if err != nil {
		return err
	}
	db, err := vuln.Open(dir)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("vulnerability database %s: %w", dir, err)
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		return fmt.Errorf("vulnerability database %s: %w", dir, err)
	}
	if fs, err = fsutil.NewFilterFS(fs, &fsutil.FilterOpt{IncludePatterns: []string{"*.db"}}); err != nil {
		return fmt.Errorf("vulnerability database %s: %w", dir, err)
	}
	solve.LocalMounts[frontend.DBContext] = fs
	solve.FrontendAttrs["context:"+frontend.DBContext] = "local:" + frontend.DBContext
	return nil
}

// addPolicy sends the --policy file's folder as the context
// secure-build-policy, naming the file by the build arg SECURE_BUILD_POLICY:
// the frontend reads the file and the VEX documents beside it from there.
// Only the file and the VEX documents it names are sent.
func addPolicy(solve *client.SolveOpt, file string) error {
	if file == "" {
		return nil
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("--policy %s: %w", file, err)
	}
	// Checked here, so that a bad file fails before the build; its VEX
	// documents are read once, by the frontend.
	data, err := policy.ReadFile(abs)
	if err != nil {
		return err
	}
	p, err := policy.Parse(abs, data)
	if err != nil {
		return err
	}
	// A VEX path is sent as written and, when it is a symlink, where it
	// leads; one that leads out of the folder is refused here, as scan and
	// verify refuse it.
	include := []string{filepath.Base(abs)}
	for _, ref := range p.VEX {
		if strings.Contains(ref, "://") {
			continue
		}
		inside, err := policy.VEXFile(filepath.Dir(abs), ref)
		if err != nil {
			return fmt.Errorf("policy %s: VEX document %s: %w", abs, ref, err)
		}
		rel, err := policy.VEXPath(ref)
		if err != nil {
			return fmt.Errorf("policy %s: VEX document %s: %w", abs, ref, err)
		}
		include = append(include, rel, filepath.ToSlash(inside))
	}
	fs, err := fsutil.NewFS(filepath.Dir(abs))
	if err == nil {
		fs, err = fsutil.NewFilterFS(fs, &fsutil.FilterOpt{IncludePatterns: include})
	}
	if err != nil {
		return fmt.Errorf("--policy %s: %w", file, err)
	}
	solve.LocalMounts[frontend.PolicyContext] = fs
	solve.FrontendAttrs["context:"+frontend.PolicyContext] = "local:" + frontend.PolicyContext
	solve.FrontendAttrs["build-arg:"+frontend.ArgPolicy] = filepath.Base(abs)
	return nil
}

// exportTarget is what the outputs depend on besides the flags: whether
// the builder is a Docker Engine's own BuildKit, and whether the engine an
// image is loaded into keeps attestations.
type exportTarget struct {
	// engine is set for the docker driver: images go into the engine
	// through its moby exporter, and it is the default output.
	engine bool
	// containerdStore reports whether the engine images are loaded into
	// uses the containerd image store; asked only when an output needs it.
	containerdStore func() (bool, error)
	// warn receives what the user should know about the outputs.
	warn io.Writer
}

// parseOutputs reads -o, --push, --load and -t as docker buildx build does:
// on the docker driver an image goes to the engine unless told otherwise;
// elsewhere a build with no output only fills the build cache.
func parseOutputs(ctx context.Context, dockerCli command.Cli, opts buildOptions, target exportTarget) ([]client.ExportEntry, func(bool) error, error) {
	outputs := opts.outputs
	if opts.push {
		outputs = append(outputs, "type=registry")
	}
	if opts.load {
		outputs = append(outputs, "type=docker")
	}
	if len(outputs) == 0 && target.engine {
		outputs = []string{"type=docker"}
	}
	if len(outputs) == 0 {
		fmt.Fprintln(target.warn, "WARNING: No output specified: the build result will only remain in the build cache.\n"+
			"         To push it use --push, to load it into docker use --load, or name another with -o.")
	}
	var (
		entries []client.ExportEntry
		files   []outputFinisher
	)
	finish := func(ok bool) error {
		var errs []error
		for _, f := range files {
			errs = append(errs, f.finish(ok))
		}
		files = nil
		return errors.Join(errs...)
	}
	for _, o := range outputs {
		e, file, err := parseOutput(ctx, dockerCli, o, opts, target)
		if err == nil {
			err = stageOutput(&e, file)
		}
		if err != nil {
			finish(false)
			return nil, func(bool) error { return nil }, fmt.Errorf("--output %q: %w", o, err)
		}
		entries = append(entries, e)
		if file != nil {
			files = append(files, file)
		}
	}
	return entries, finish, nil
}

// outputFinisher is an output BuildKit writes beside its destination:
// finish puts it into place when the build passed, else removes it.
type outputFinisher interface {
	finish(ok bool) error
}

// stageOutput checks a file output's destination, and points BuildKit at
// a folder output's staging folder.
func stageOutput(e *client.ExportEntry, out outputFinisher) error {
	switch out := out.(type) {
	case *outputFile:
		return out.check()
	case *outputDir:
		if err := out.stage(); err != nil {
			return err
		}
		e.OutputDir = out.staging
	}
	return nil
}

func parseOutput(ctx context.Context, dockerCli command.Cli, spec string, opts buildOptions, target exportTarget) (client.ExportEntry, outputFinisher, error) {
	e := client.ExportEntry{Attrs: map[string]string{}}
	fields, err := csvvalue.Fields(spec, nil)
	if err != nil {
		return e, nil, err
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			// "-o DIR" is type=local,dest=DIR, as in buildx.
			if len(fields) == 1 {
				e.Type, e.OutputDir = client.ExporterLocal, f
				return e, &outputDir{path: f}, nil
			}
			return e, nil, fmt.Errorf("%q: want key=value", f)
		}
		if strings.ToLower(k) == "type" {
			e.Type = v
			continue
		}
		e.Attrs[strings.ToLower(k)] = v
	}
	if e.Type == "registry" {
		e.Type = client.ExporterImage
		e.Attrs["push"] = "true"
	}
	if e.Type == client.ExporterImage || e.Type == client.ExporterDocker || e.Type == client.ExporterOCI {
		if _, ok := e.Attrs["name"]; !ok && len(opts.tags) > 0 {
			e.Attrs["name"] = strings.Join(opts.tags, ",")
		}
	}
	if e.Type == client.ExporterImage && opts.push {
		e.Attrs["push"] = "true"
	}
	if e.Type == client.ExporterImage && e.Attrs["push"] == "true" && e.Attrs["name"] == "" {
		// As docker buildx build says it, before building anything.
		return e, nil, errors.New("tag is needed when pushing to registry: give one with -t NAME:TAG")
	}
	if target.engine && (e.Type == client.ExporterImage || e.Type == client.ExporterDocker && e.Attrs["dest"] == "") {
		// Docker Engine's BuildKit has no image exporter of its own: its
		// moby exporter stores into the engine, and pushes with push=true.
		e.Type = mobyExporter
		if err := warnClassicStore(target); err != nil {
			return e, nil, err
		}
		return e, nil, nil
	}
	dest := e.Attrs["dest"]
	delete(e.Attrs, "dest")
	switch e.Type {
	case client.ExporterImage:
		if dest != "" {
			return e, nil, errors.New("the image exporter takes no dest")
		}
		return e, nil, nil
	case client.ExporterLocal:
		if dest == "" {
			return e, nil, errors.New("type=local needs dest=DIR")
		}
		e.OutputDir = dest
		return e, &outputDir{path: dest, deleteOthers: e.Attrs["mode"] == string(client.LocalExporterModeDelete)}, nil
	case client.ExporterOCI, client.ExporterDocker:
		if tar := e.Attrs["tar"]; tar == "false" {
			if dest == "" {
				return e, nil, fmt.Errorf("type=%s,tar=false needs dest=DIR", e.Type)
			}
			e.OutputDir = dest
			return e, &outputDir{path: dest, layout: true}, nil
		}
		if dest == "" && e.Type == client.ExporterDocker {
			// As buildx: an engine with the containerd image store loads
			// an OCI tar, attestations and all; the classic store takes
			// the docker tar and drops them.
			containerd, err := target.containerdStore()
			if err != nil {
				return e, nil, err
			}
			if containerd {
				e.Type = client.ExporterOCI
			} else {
				fmt.Fprintln(target.warn, classicStoreWarning)
			}
			out := loadIntoDocker(ctx, dockerCli)
			e.Output = out.output
			return e, out, nil
		}
		fallthrough
	case client.ExporterTar:
		if dest == "" || dest == "-" {
			return e, nil, fmt.Errorf("type=%s needs dest=FILE", e.Type)
		}
		out := &outputFile{path: dest}
		e.Output = out.output
		return e, out, nil
	}
	return e, nil, fmt.Errorf("unknown output type %q: want image, registry, docker, oci, local or tar", e.Type)
}

// mobyExporter is the exporter of Docker Engine's embedded BuildKit.
const mobyExporter = "moby"

// classicStoreWarning says what an image loaded into an engine with the
// classic image store lacks, and how to keep it.
const classicStoreWarning = "secure-build: this Docker Engine uses the classic image store, which keeps no attestations: the image\n" +
	"  goes in without its SBOM and scan attestations (the scan, the policy and --sbom-output are unchanged).\n" +
	"  Attestations need the containerd image store (\"features\": {\"containerd-snapshotter\": true} in daemon.json),\n" +
	"  or a docker-container or remote builder with --push or --output type=oci."

// warnClassicStore prints classicStoreWarning when the builder's engine
// uses the classic image store.
func warnClassicStore(target exportTarget) error {
	containerd, err := target.containerdStore()
	if err != nil {
		return err
	}
	if !containerd {
		fmt.Fprintln(target.warn, classicStoreWarning)
	}
	return nil
}

// takeEnginePushes turns the moby exports that push into plain ones and
// returns the names to push: as buildx does, the engine pushes them itself
// once the build has passed, which its classic image store needs (its
// moby exporter cannot push) and which the containerd store does with the
// attestation manifests.
func takeEnginePushes(exports []client.ExportEntry) []string {
	var names []string
	for _, e := range exports {
		if e.Type != mobyExporter || e.Attrs["push"] != "true" {
			continue
		}
		delete(e.Attrs, "push")
		for name := range strings.SplitSeq(e.Attrs["name"], ",") {
			if name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// pushFromEngine pushes each name from the engine with the credentials the
// Docker config (or its credential helper) holds for the registry.
func pushFromEngine(ctx context.Context, dockerCli command.Cli, engine dockerclient.APIClient, names []string) error {
	for _, name := range names {
		auth, err := command.RetrieveAuthTokenFromImage(dockerCli.ConfigFile(), name)
		if err != nil {
			return fmt.Errorf("push %s: registry credentials: %w", name, err)
		}
		res, err := engine.ImagePush(ctx, name, dockerclient.ImagePushOptions{RegistryAuth: auth})
		if err != nil {
			return fmt.Errorf("push %s: %w", name, err)
		}
		err = jsonmessage.DisplayJSONMessagesStream(res, dockerCli.Err(), 0, false, nil)
		res.Close()
		if err != nil {
			return fmt.Errorf("push %s: %w", name, err)
		}
	}
	return nil
}

// loadIntoDocker is --load with a BuildKit outside Docker Engine: the image
// is exported as a docker tar and loaded through the Docker API once the
// build has passed.
func loadIntoDocker(ctx context.Context, dockerCli command.Cli) *outputFile {
	return &outputFile{path: "docker-load.tar", load: func(r io.Reader) error {
		res, err := dockerCli.Client().ImageLoad(ctx, r)
		if err != nil {
			return fmt.Errorf("load the image into Docker: %w", err)
		}
		defer res.Close()
		return jsonmessage.DisplayJSONMessagesStream(res, dockerCli.Err(), 0, false, nil)
	}}
}

// metadataOf is the exporter's response as buildx writes --metadata-file:
// values that are base64-encoded JSON are decoded.
func metadataOf(resp map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range resp {
		out[k] = v
		if b, err := base64.StdEncoding.DecodeString(v); err == nil && json.Valid(b) {
			out[k] = json.RawMessage(b)
		}
	}
	return out
}
