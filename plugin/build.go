package plugin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	solvererrdefs "github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/util/progress/progressui"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/secure-build/secure-build/build"
	"github.com/secure-build/secure-build/builder"
	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sign"
	"github.com/secure-build/secure-build/vuln"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ScannerImage is the published scanner image the scan step runs in when the
// builder cannot run this binary; set at release build time with
// -ldflags "-X github.com/secure-build/secure-build/plugin.ScannerImage=...".
var ScannerImage = ""

// buildOptions are the flags of "build", grouped as docker buildx build
// groups them.
type buildOptions struct {
	contextPath string

	// Build
	file          string
	tags          []string
	target        string
	buildArgs     []string
	buildContexts []string
	platforms     []string
	labels        []string
	secrets       []string
	ssh           []string
	network       string
	allow         []string
	noCache       bool
	pull          bool

	// Output
	outputs      []string
	push         bool
	load         bool
	iidFile      string
	metadataFile string
	progress     string
	quiet        bool

	// Cache
	cacheFrom []string
	cacheTo   []string

	// Attestations
	attests    []string
	provenance string
	sbom       string

	// Scan
	db           dbFlags
	failOn       string
	onlyFixable  *bool
	incomplete   string
	scope        string
	policyFile   string
	sbomOutput   string
	reportFile   string
	reportFormat string
	scannerImage string
	exitCode     int
	signKey      string

	builder string
}

func newBuildCmd(dockerCli command.Cli) *cobra.Command {
	var opts buildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image, scan its final stage during the build, and fail or attest by policy",
		Long: `Build a Dockerfile as "docker buildx build" does, with the same flags, and
scan each platform's final stage inside the build: BuildKit runs the scanner
as a cached build step over the stage's files, read-only and without network.
The policy is applied on every build, cached scan or not. A failing policy
stops the build before anything is exported, pushed or loaded, listing the
findings that failed it. A passing build carries, per platform, an SPDX 2.3
SBOM and the scan result (the cosign vulnerability predicate) as attestations.

The builder is, in this order: --builder NAME, BUILDX_BUILDER, the BuildKit at
BUILDKIT_HOST, the builder "docker buildx use" made active, and else the
current Docker context's engine (its embedded BuildKit). A name is a buildx
builder (docker, docker-container, kubernetes or remote driver) or a Docker
context. A builder of several nodes builds each --platform on the node that
supports it, as docker buildx build does, and --push joins them in one index.
On the docker driver the image goes into the engine, as with docker buildx
build; attestations need the engine's containerd image store.

The vulnerability database is the local one (see "db"), sent to the build as
the context secure-build-db; --build-context secure-build-db=... names another.

Policy: secure-build.yaml at the root of the build context, or the file
--policy names (never a file from the image being built); without one, fail
on a fixable critical finding and warn on the base-image and Dockerfile
practices. --fail-on and --include-unfixable, or the build args
SECURE_BUILD_FAIL_ON and SECURE_BUILD_ONLY_FIXABLE, override the file's
threshold. --scope added, the file's vulnerabilities.scope or the build arg
SECURE_BUILD_SCOPE gate only the findings the Dockerfile added or changed
("no new vulnerabilities beyond the base image"): those inherited from the
base image are reported and do not gate; one nothing attributed gates.
Broken Dockerfile rules show as build warnings on their line.

An INCOMPLETE scan fails the build: one where a package database, a
lockfile, an archive or a package's version that decides findings could not
be read completely (each named with why). The policy rule scan.incomplete,
--incomplete or the build arg SECURE_BUILD_INCOMPLETE (fail, warn, off) relax
it, at the risk of letting the vulnerable packages of what was not read
pass unseen.

Exit status: 0 built; 1 the build failed, as docker buildx build; 3 the
policy failed, or the status --exit-code sets (1 to 125); 2 a usage error
(an unknown flag, no PATH, a bad value of a scan flag).`,
		Example: `  # Build and scan on Docker Engine, loading app:1 with its attestations
  docker secure build -t app:1 .

  # Build on a buildx builder, or on a buildkitd
  docker secure build --builder mybuilder .
  BUILDKIT_HOST=tcp://buildkitd:1234 docker secure build .

  # Build for two platforms and push with the SBOM and scan attestations
  docker secure build --platform linux/amd64,linux/arm64 -t registry.example.com/app:1 --push .

  # Build a Git repository at a tag, or a Dockerfile on stdin with no context
  docker secure build https://github.com/org/app.git#v1.2
  docker secure build - < Dockerfile

  # Apply a team's policy file kept outside the build context
  docker secure build --policy ../policies/strict.yaml -t app:1 .

  # Fail only on what the Dockerfile added, not on what the base image brings
  docker secure build --scope added --fail-on high -t app:1 .

  # Push, then sign the SBOM and scan statements for cosign and Kyverno
  COSIGN_PASSWORD=... docker secure build --push --sign-key cosign.key -t registry.example.com/app:1 .

  # Fail on high findings too, and keep an SBOM and a SARIF report
  docker secure build --fail-on high --sbom-output app.spdx.json \
    --report scan.sarif --report-format sarif -o type=oci,dest=app.tar .`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.contextPath = args[0]
			if err := checkScanFlags(cmd.Flags(), opts); err != nil {
				return cli.StatusError{Cause: err, Status: err.Error(), StatusCode: ExitError}
			}
			// Ctrl-C cancels the build: under the Docker CLI the plugin's
			// context ends when the CLI is interrupted; run standalone, or
			// signalled directly, the signal ends it (newInterrupt says
			// when it waits).
			in := newInterrupt(cmd.Context())
			err := runBuild(in.ctx, dockerCli, opts, in)
			in.stop()
			if _, ok := errors.AsType[cli.StatusError](err); err != nil && !ok {
				// As docker buildx build: every failure of a build exits 1.
				return cli.StatusError{Cause: err, Status: err.Error(), StatusCode: ExitBuildFailed}
			}
			return err
		},
	}

	flags := cmd.Flags()
	flags.StringVarP(&opts.file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile")`)
	flags.StringArrayVarP(&opts.tags, "tag", "t", nil, `Image name and optionally a tag (format: "name:tag")`)
	flags.StringVar(&opts.target, "target", "", "Set the target build stage to build")
	flags.StringArrayVar(&opts.buildArgs, "build-arg", nil, "Set build-time variables")
	flags.StringArrayVar(&opts.buildContexts, "build-context", nil, "Additional build contexts (e.g., name=path, name=docker-image://ref, name=oci-layout://path@digest)")
	flags.StringArrayVar(&opts.platforms, "platform", nil, "Set target platform for build")
	flags.StringArrayVar(&opts.labels, "label", nil, "Set metadata for an image")
	flags.StringArrayVar(&opts.secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")`)
	flags.StringArrayVar(&opts.ssh, "ssh", nil, `SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>|<key>[,<key>]]")`)
	flags.StringVar(&opts.network, "network", "default", "Set the networking mode for the RUN instructions during build")
	flags.StringArrayVar(&opts.allow, "allow", nil, `Allow extra privileged entitlement (e.g., "network.host", "security.insecure")`)
	flags.BoolVar(&opts.noCache, "no-cache", false, "Do not use cache when building the image")
	flags.BoolVar(&opts.pull, "pull", false, "Always attempt to pull all referenced images")

	flags.StringArrayVarP(&opts.outputs, "output", "o", nil, `Output destination (format: "type=local,dest=path")`)
	flags.BoolVar(&opts.push, "push", false, `Shorthand for "--output=type=registry"`)
	flags.BoolVar(&opts.load, "load", false, `Shorthand for "--output=type=docker"`)
	flags.StringVar(&opts.iidFile, "iidfile", "", "Write the image ID to a file")
	flags.StringVar(&opts.metadataFile, "metadata-file", "", "Write build result metadata to a file")
	flags.StringVar(&opts.builder, "builder", "", "Override the configured builder instance (a buildx builder or a Docker context)")
	flags.StringVar(&opts.progress, "progress", "auto", `Set type of progress output ("auto", "none", "plain", "quiet", "rawjson", "tty")`)
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")

	flags.StringArrayVar(&opts.cacheFrom, "cache-from", nil, `External cache sources (e.g., "user/app:cache", "type=local,src=path/to/dir")`)
	flags.StringArrayVar(&opts.cacheTo, "cache-to", nil, `Cache export destinations (e.g., "user/app:cache", "type=local,dest=path/to/dir")`)

	flags.StringArrayVar(&opts.attests, "attest", nil, `Attestation parameters (format: "type=sbom,generator=image")`)
	flags.StringVar(&opts.provenance, "provenance", "", `Shorthand for "--attest=type=provenance"`)
	flags.StringVar(&opts.sbom, "sbom", "", `Shorthand for "--attest=type=sbom"; the SBOM is always secure-build's own`)

	opts.db.bind(flags)
	flags.StringVar(&opts.failOn, "fail-on", "", "Lowest severity that fails the build: critical, high, medium, low, unknown, none (default critical)")
	bindOnlyFixable(flags, &opts.onlyFixable)
	flags.StringVar(&opts.incomplete, "incomplete", "", "What an incomplete scan (a package database, lockfile or archive that could not be read completely) does: fail, warn or off; warn and off let the vulnerable packages of what was not read pass unseen (default fail)")
	flags.StringVar(&opts.scope, "scope", "", "Which findings gate: all, or added (only those the Dockerfile added or changed; those inherited from the base image are reported, not gating) (default all)")
	flags.StringVar(&opts.policyFile, "policy", "", "Policy file (default: secure-build.yaml at the root of the build context)")
	flags.StringVar(&opts.sbomOutput, "sbom-output", "", "Also write the final stage's SPDX 2.3 SBOM to FILE (one file a platform: FILE gets the platform in its name)")
	flags.StringVar(&opts.reportFile, "report", "", "Also write the scan report to FILE")
	flags.StringVar(&opts.reportFormat, "report-format", "json", "Report format: json, sarif, markdown, cyclonedx-json")
	flags.StringVar(&opts.scannerImage, "scanner-image", "", "Run the scan step in this image instead of sending this binary to the builder")
	flags.IntVar(&opts.exitCode, "exit-code", ExitPolicyFailed, "Exit status when the policy fails the build (1 to 125)")
	flags.StringVar(&opts.signKey, "sign-key", "", "With --push, sign the pushed statements with this cosign private key (see \"attest\"; password from COSIGN_PASSWORD or a prompt)")
	return cmd
}

func runBuild(ctx context.Context, dockerCli command.Cli, opts buildOptions, in *interrupt) error {
	progressMode, printImageID, err := opts.displayMode()
	if err != nil {
		return err
	}
	// The content store of an oci-layout context logs a warning on every
	// filesystem without fsverity; the build's own warnings come through
	// BuildKit's progress, not the log.
	logrus.SetLevel(logrus.ErrorLevel)
	// The key is read first: a wrong password must not cost a build.
	var signer *sign.Signer
	if opts.signKey != "" {
		if signer, err = loadSigningKey(dockerCli, opts.signKey); err != nil {
			return err
		}
	}
	// The context is read first: a missing path is the error to show,
	// whatever the state of the builder.
	solve, err := build.NewSolveOpt(opts.solveOptions(dockerCli))
	if err != nil {
		return err
	}
	b, err := builder.Choose(ctx, dockerCli, opts.builder, opts.contextPath)
	if err != nil {
		return err
	}
	requested, err := build.RequestedPlatforms(solve)
	if err != nil {
		return err
	}
	// As docker buildx build: a builder of several nodes builds each
	// requested platform on the node that supports it.
	nodes, err := b.Nodes(ctx, requested)
	if err != nil {
		return err
	}
	if progressMode != progressui.QuietMode && progressMode != progressui.RawJSONMode {
		fmt.Fprintf(dockerCli.Err(), "secure-build: building with %s\n", b)
		if len(nodes) > 1 {
			for _, n := range nodes {
				fmt.Fprintf(dockerCli.Err(), "secure-build: node %s builds %s\n", n.Name, build.FormatPlatforms(n.Platforms))
			}
		}
	}
	sendDB, err := addScanInputs(&solve, opts)
	if err != nil {
		return err
	}
	drv := nodes[0].Driver
	// As docker buildx build: with no output named, the docker driver and a
	// builder made with default-load=true load the image into Docker.
	load := opts.load || len(opts.outputs) == 0 && !opts.push && (drv.IsMobyDriver() || b.DefaultLoad())
	outputs, err := build.ParseOutputs(opts.outputs, opts.push, load, opts.tags)
	if err != nil {
		return err
	}
	spread, err := build.NewSpread(outputs, len(nodes), drv.IsMobyDriver())
	if err != nil {
		return fmt.Errorf("%s: %w", b, err)
	}

	var (
		mu    sync.Mutex
		scans []frontend.PlatformScan
	)
	advisor := newBaseAdvisor(ctx, opts)
	defer advisor.close()
	onScan := func(s frontend.PlatformScan) {
		if advisor != nil {
			advisor.advise(s)
		}
		mu.Lock()
		defer mu.Unlock()
		scans = append(scans, s)
	}
	type nodeBuild struct {
		c       *client.Client
		solve   client.SolveOpt
		exports *build.Exports
		fopts   frontend.Options
	}
	parts := make([]nodeBuild, len(nodes))
	for i, n := range nodes {
		c, err := n.Driver.Client(ctx)
		if err != nil {
			return fmt.Errorf("connect to %s: %w", b.NodeString(n), err)
		}
		defer c.Close()
		platform, err := build.WorkerPlatform(ctx, c)
		if err != nil {
			return fmt.Errorf("%s: %w", b.NodeString(n), err)
		}
		// The base-image advice asks the registry while this node builds.
		built := n.Platforms
		if len(built) == 0 {
			built = []ocispecs.Platform{platform}
		}
		for _, p := range built {
			advisor.prefetch(p)
		}
		// What the outputs say to the user is said once.
		var warn io.Writer = dockerCli.Err()
		if i > 0 {
			warn = io.Discard
		}
		exports, err := build.NewExports(ctx, outputs, n.Driver, dockerCli.ConfigFile(), warn)
		if err != nil {
			return err
		}
		defer exports.Finish(ctx, false)
		in.watch(exports.Receiving)
		nodeSolve, err := spread.Solve(solve, n.Platforms, exports.Entries)
		if err != nil {
			return err
		}
		if _, ok := nodeSolve.FrontendAttrs["platform"]; !ok {
			// The build function runs here, not on the builder: left alone it
			// would label the result with this machine's platform.
			nodeSolve.FrontendAttrs["platform"] = platforms.Format(platform)
		}
		// The scan step runs on the builder: its platform, not this machine's,
		// decides whether this binary can be the scanner.
		scanner, err := build.ChooseScanner(warn, platform, opts.scannerImage, ScannerImage)
		if err != nil {
			return err
		}
		scanWith := frontend.Scanner{Image: scanner.Image, Path: frontend.ScannerPath}
		if scanner.Local != nil {
			scanner.Local.AddTo(&nodeSolve)
			scanWith = frontend.Scanner{Image: scanner.Local.Name, Path: scanner.Path}
		}
		// The database goes as an image of the node's platform.
		if sendDB != "" {
			if err := build.SendDatabase(&nodeSolve, frontend.DBContext, sendDB, platform); err != nil {
				return err
			}
		}
		parts[i] = nodeBuild{c: c, solve: nodeSolve, exports: exports, fopts: frontend.Options{
			Scanner:     scanWith,
			ToolVersion: Version,
			FullSBOM:    opts.sbomOutput != "" || opts.reportFile != "",
			OnScan:      onScan,
		}}
	}
	display, err := progressui.NewDisplay(progressOutput(dockerCli), progressMode)
	if err != nil {
		return fmt.Errorf("--progress %s: %w", progressMode, err)
	}
	ch := make(chan *client.SolveStatus)
	var (
		warnings   []client.VertexWarning
		displayErr error
	)
	// The warnings are listed once, after the progress: the display does
	// not get them, but in raw JSON, where they are part of the stream.
	summarize := progressMode != progressui.QuietMode && progressMode != progressui.RawJSONMode
	displayed := make(chan struct{})
	go func() {
		defer close(displayed)
		shown := make(chan *client.SolveStatus)
		go func() {
			defer close(shown)
			for s := range ch {
				s = printableStatus(s)
				if summarize {
					for _, w := range s.Warnings {
						// Each node of a spread build warns of the
						// Dockerfile: said once.
						if !slices.ContainsFunc(warnings, func(seen client.VertexWarning) bool { return bytes.Equal(seen.Short, w.Short) }) {
							warnings = append(warnings, *w)
						}
					}
					s.Warnings = nil
				}
				shown <- s
			}
		}()
		_, displayErr = display.UpdateFrom(context.WithoutCancel(ctx), shown)
		// BuildKit blocks on a status nobody reads: drain the rest (and
		// wait for the warnings' last).
		for range shown {
		}
	}()
	resps, buildErr := build.RunNodes(ctx, len(parts), ch, func(ctx context.Context, i int, ch chan *client.SolveStatus) (*client.SolveResponse, error) {
		p := parts[i]
		return p.c.Build(ctx, p.solve, "secure-build", frontend.Build(p.fopts), ch)
	})
	<-displayed
	if displayErr != nil {
		fmt.Fprintf(dockerCli.Err(), "warning: progress display: %v\n", displayErr)
	}
	if summarize {
		printWarnings(dockerCli.Err(), warnings)
	}

	// Interrupted while a folder output was let finish: nothing goes
	// into place.
	if in.happened() && buildErr == nil {
		buildErr = context.Canceled
	}
	failed := printVerdicts(dockerCli.Err(), scans)
	advisor.print(dockerCli.Err())
	writeErr := writeScanFiles(dockerCli.Err(), opts, scans)
	if failed != nil || buildErr != nil {
		// The files show why; failing to write one must not hide the why.
		if writeErr != nil {
			fmt.Fprintf(dockerCli.Err(), "warning: %v\n", writeErr)
		}
		if failed != nil {
			return cli.StatusError{Cause: failed, Status: failed.Error(), StatusCode: opts.exitCode}
		}
		if ctx.Err() != nil || in.happened() {
			return cli.StatusError{Cause: context.Canceled, Status: "build canceled", StatusCode: ExitBuildFailed}
		}
		printErrorSource(dockerCli.Err(), buildErr)
		return cli.StatusError{Cause: buildErr, Status: buildErr.Error(), StatusCode: ExitBuildFailed}
	}
	if writeErr != nil {
		return writeErr
	}
	// Only now, the policy passed: the outputs go into place and the
	// engine pushes; the images the nodes pushed become one index.
	for _, p := range parts {
		if err := p.exports.Finish(ctx, true); err != nil {
			return err
		}
	}
	resp, err := spread.Merge(ctx, b.ImageOpt(), resps)
	if err != nil {
		return err
	}
	if err := writeBuildResult(opts, resp); err != nil {
		return err
	}
	if signer != nil {
		if err := signPushed(ctx, dockerCli.Err(), resp, signer); err != nil {
			return err
		}
	}
	if printImageID {
		fmt.Fprintln(dockerCli.Out(), imageID(resp))
	}
	return nil
}

// displayMode reads --progress and --quiet as docker buildx build does:
// "quiet" and --quiet show no progress and print the image ID at the end,
// "none" shows none and prints nothing, and BUILDKIT_PROGRESS stands for
// "auto".
func (opts buildOptions) displayMode() (mode progressui.DisplayMode, printImageID bool, err error) {
	mode, printImageID = progressui.DisplayMode(opts.progress), opts.quiet
	switch opts.progress {
	case "quiet":
		printImageID = true
	case "none":
		mode = progressui.QuietMode
	case "auto", "plain", "tty", "rawjson":
	default:
		return "", false, fmt.Errorf("--progress %q: want auto, none, plain, quiet, rawjson or tty", opts.progress)
	}
	if printImageID {
		if mode != progressui.AutoMode && mode != progressui.QuietMode {
			return "", false, fmt.Errorf("--progress %s and --quiet cannot be used together", opts.progress)
		}
		return progressui.QuietMode, true, nil
	}
	if env := os.Getenv("BUILDKIT_PROGRESS"); env != "" && mode == progressui.AutoMode {
		mode = progressui.DisplayMode(env)
		if !slices.Contains([]progressui.DisplayMode{progressui.AutoMode, progressui.PlainMode, progressui.TtyMode, progressui.QuietMode, progressui.RawJSONMode}, mode) {
			return "", false, fmt.Errorf("BUILDKIT_PROGRESS=%q: want auto, plain, quiet, rawjson or tty", env)
		}
	}
	return mode, false, nil
}

// progressOutput is where the progress goes: the standard error, as the
// *os.File it is when there is one, for BuildKit's display to find the
// terminal (a *streams.Out hides it).
func progressOutput(dockerCli command.Cli) io.Writer {
	if f, ok := dockerCli.Err().File(); ok {
		return f
	}
	return dockerCli.Err()
}

// solveOptions are the flags BuildKit's solve takes as docker buildx build
// takes them.
func (opts buildOptions) solveOptions(dockerCli command.Cli) build.Options {
	return build.Options{
		ContextPath:   opts.contextPath,
		Dockerfile:    opts.file,
		Stdin:         dockerCli.In(),
		Target:        opts.target,
		BuildArgs:     opts.buildArgs,
		BuildContexts: opts.buildContexts,
		Platforms:     opts.platforms,
		Labels:        opts.labels,
		Secrets:       opts.secrets,
		SSH:           opts.ssh,
		Network:       opts.network,
		Allow:         opts.allow,
		NoCache:       opts.noCache,
		Pull:          opts.pull,
		CacheFrom:     opts.cacheFrom,
		CacheTo:       opts.cacheTo,
		Attests:       opts.attests,
		Provenance:    opts.provenance,
		SBOM:          opts.sbom,
		Config:        dockerCli.ConfigFile(),
	}
}

// addScanInputs gives the frontend its scan settings: the scan flags as
// build args (a flag wins over --build-arg) and the --policy file. It
// returns the local vulnerability database's folder, which each node is
// to be sent, unless the build names one (a context, or an image by the
// build arg).
func addScanInputs(solve *client.SolveOpt, opts buildOptions) (string, error) {
	attrs := solve.FrontendAttrs
	if opts.failOn != "" {
		attrs["build-arg:"+frontend.ArgFailOn] = opts.failOn
	}
	if _, set := attrs["build-arg:"+frontend.ArgMaxDBAge]; !set && opts.db.maxAge != vuln.DefaultMaxAge {
		attrs["build-arg:"+frontend.ArgMaxDBAge] = opts.db.maxAge.String()
	}
	if opts.onlyFixable != nil {
		attrs["build-arg:"+frontend.ArgOnlyFixable] = strconv.FormatBool(*opts.onlyFixable)
	}
	if opts.incomplete != "" {
		attrs["build-arg:"+frontend.ArgIncomplete] = opts.incomplete
	}
	if opts.scope != "" {
		attrs["build-arg:"+frontend.ArgScope] = opts.scope
	}
	// The image's names, for VEX statements about the image as a whole.
	if _, given := attrs["build-arg:"+frontend.ArgImage]; !given && len(opts.tags) > 0 {
		attrs["build-arg:"+frontend.ArgImage] = strings.Join(opts.tags, ",")
	}
	dir := ""
	_, named := attrs["context:"+frontend.DBContext]
	_, image := attrs["build-arg:"+frontend.ArgDBImage]
	if !named && !image {
		var err error
		if dir, err = opts.db.resolve(); err != nil {
			return "", err
		}
	}
	return dir, build.SendPolicy(solve, frontend.PolicyContext, frontend.ArgPolicy, opts.policyFile)
}

// checkScanFlags refuses bad scan flags before anything is built.
func checkScanFlags(flags *pflag.FlagSet, opts buildOptions) error {
	if opts.failOn != "" {
		if _, err := policy.ParseLevel(opts.failOn); err != nil {
			return fmt.Errorf("--fail-on %w", err)
		}
	}
	if opts.incomplete != "" {
		if _, err := policy.ParseAction(opts.incomplete); err != nil {
			return fmt.Errorf("--incomplete %w", err)
		}
	}
	if opts.scope != "" {
		if _, err := policy.ParseScope(opts.scope); err != nil {
			return fmt.Errorf("--scope %w", err)
		}
	}
	if opts.exitCode == 0 {
		// The frontend stops a failing build before export: there is no
		// image a status 0 could stand for.
		return fmt.Errorf("--exit-code 0: a build its policy fails exports nothing, so it cannot pass; to let findings through, use --fail-on none or the policy file's ignore entries")
	}
	if err := checkExitCode(opts.exitCode); err != nil {
		return err
	}
	if opts.signKey != "" && !opts.push {
		return fmt.Errorf("--sign-key %s: signing publishes into the registry: add --push", opts.signKey)
	}
	if opts.reportFile == "" && flags.Changed("report-format") {
		return fmt.Errorf("--report-format %s: no --report FILE to write it to", opts.reportFormat)
	}
	if opts.reportFile != "" && (opts.reportFormat == "table" || !slices.Contains(report.Formats, opts.reportFormat)) {
		return fmt.Errorf("--report-format %q: want json, sarif, markdown or cyclonedx-json", opts.reportFormat)
	}
	// Written after the export: a link planted there would otherwise fail
	// the command once the image is out.
	for flag, path := range map[string]string{"--iidfile": opts.iidFile, "--metadata-file": opts.metadataFile} {
		if path == "" {
			continue
		}
		if err := build.CheckDestination(path); err != nil {
			return fmt.Errorf("%s %s: %w", flag, path, err)
		}
	}
	return nil
}

// printWarnings lists the build's warnings after the progress, as buildx does.
func printWarnings(w io.Writer, warnings []client.VertexWarning) {
	if len(warnings) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d %s found:\n", len(warnings), pluralWord(len(warnings), "warning", "warnings"))
	shown := map[string]bool{}
	for _, warn := range warnings {
		fmt.Fprintf(w, " - %s\n", report.Printable(strings.TrimSpace(string(warn.Short))))
		// A warning about a Dockerfile line (a practice, a finding that
		// line brought in) shows the lines, as a build error does; once
		// for each range, since many findings come from one FROM or RUN.
		if warn.SourceInfo == nil || len(warn.Range) == 0 {
			continue
		}
		key := warn.SourceInfo.Filename
		for _, r := range warn.Range {
			key += fmt.Sprintf(":%d-%d", r.GetStart().GetLine(), r.GetEnd().GetLine())
		}
		if !shown[key] {
			shown[key] = true
			printSource(w, &solvererrdefs.Source{Info: warn.SourceInfo, Ranges: warn.Range})
		}
	}
}

// printableStatus escapes the warnings of a status before BuildKit's
// display prints them: the frontend's warnings quote the image (package
// names, paths).
func printableStatus(s *client.SolveStatus) *client.SolveStatus {
	for _, w := range s.Warnings {
		w.Short = []byte(report.Printable(string(w.Short)))
		for i, d := range w.Detail {
			w.Detail[i] = []byte(report.Printable(string(d)))
		}
	}
	return s
}

// printVerdicts prints each platform's counts, with the verdict of those
// that passed, and returns the policy's error when some platform failed:
// printed last, it is the verdict of those, said once.
func printVerdicts(w io.Writer, scans []frontend.PlatformScan) error {
	if len(scans) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	var failing []frontend.PlatformScan
	for _, s := range frontend.SortScans(scans) {
		counts := fmt.Sprintf("%s; %d packages; database %s old", report.ScanSummary(s.Report), s.Packages, roundAge(s.DatabaseAge))
		if !s.Report.Verdict.Pass {
			failing = append(failing, s)
			fmt.Fprintf(w, "secure-build %s: %s\n", s.Platform, counts)
		} else {
			fmt.Fprintf(w, "secure-build %s: %s\n  %s\n", s.Platform, report.VerdictLine(s.Report), counts)
		}
		if line := report.OriginLine(s.Report.Findings); line != "" {
			fmt.Fprintf(w, "  %s\n", report.Printable(line))
		}
	}
	if len(failing) > 0 {
		return &frontend.PolicyError{Scans: failing}
	}
	return nil
}

// writeBuildResult writes --iidfile and --metadata-file from the exporter's
// response.
func writeBuildResult(opts buildOptions, resp *client.SolveResponse) error {
	if resp == nil {
		return nil
	}
	if opts.iidFile != "" {
		id := imageID(resp)
		if id == "" {
			return fmt.Errorf("--iidfile %s: the build exported no image", opts.iidFile)
		}
		if err := writeOutput(io.Discard, opts.iidFile, func(w io.Writer) error { _, err := io.WriteString(w, id); return err }); err != nil {
			return err
		}
	}
	if opts.metadataFile != "" {
		b, err := json.MarshalIndent(metadataOf(resp.ExporterResponse), "", "  ")
		if err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
		if err := writeOutput(io.Discard, opts.metadataFile, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
			return err
		}
	}
	return nil
}

// imageID is the image's ID as docker buildx build prints it with --quiet
// and writes it to --iidfile: the config digest, else (an image index) the
// digest of what was exported.
func imageID(resp *client.SolveResponse) string {
	if resp == nil {
		return ""
	}
	if id, ok := resp.ExporterResponse[exptypes.ExporterImageConfigDigestKey]; ok {
		return id
	}
	return resp.ExporterResponse[exptypes.ExporterImageDigestKey]
}

// writeScanFiles writes --sbom-output and --report, one file a platform when
// there are several (the platform joins the name: app.linux-arm64.spdx.json).
func writeScanFiles(stderr io.Writer, opts buildOptions, scans []frontend.PlatformScan) error {
	scans = frontend.SortScans(scans)
	for _, s := range scans {
		if opts.sbomOutput != "" {
			path := platformFile(opts.sbomOutput, s.Platform, len(scans))
			if err := writeOutput(stderr, path, func(w io.Writer) error { _, err := w.Write(s.SPDX); return err }); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "  SBOM (%s): %s\n", s.Platform, path)
		}
		if opts.reportFile != "" {
			// SARIF places findings on the Dockerfile as the repository holds it.
			s.Report.Dockerfile = build.DockerfileInContext(opts.contextPath, opts.file)
			path := platformFile(opts.reportFile, s.Platform, len(scans))
			if err := writeOutput(stderr, path, func(w io.Writer) error { return report.Write(w, opts.reportFormat, s.Report) }); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "  report (%s): %s\n", s.Platform, path)
		}
	}
	return nil
}

// platformFile puts the platform into a file name before its first dot when
// a build has several platforms.
func platformFile(path, platform string, platforms int) string {
	if platforms < 2 {
		return path
	}
	dir, base := filepath.Split(path)
	tag := strings.ReplaceAll(platform, "/", "-")
	if name, ext, ok := strings.Cut(base, "."); ok {
		return filepath.Join(dir, name+"."+tag+"."+ext)
	}
	return filepath.Join(dir, base+"."+tag)
}

// roundAge says an age the way a person would: minutes, hours or days.
func roundAge(d time.Duration) string {
	switch {
	case d < time.Hour:
		return d.Round(time.Minute).String()
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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

// printErrorSource prints the Dockerfile lines a build error points at, the
// failing ones marked, as docker buildx build does before the error. The
// lines are the user's file, or a remote one: escaped, tabs kept.
func printErrorSource(w io.Writer, err error) {
	for _, src := range solvererrdefs.Sources(err) {
		printSource(w, src)
	}
}

// printSource prints the Dockerfile lines src points at, escaped, tabs
// kept: the lines are the user's file, or a remote one.
func printSource(w io.Writer, src *solvererrdefs.Source) {
	var b strings.Builder
	if src.Print(&b) != nil {
		return
	}
	lines := strings.Split(b.String(), "\n")
	for i, line := range lines {
		parts := strings.Split(line, "\t")
		for j, p := range parts {
			parts[j] = report.Printable(p)
		}
		lines[i] = strings.Join(parts, "\t")
	}
	io.WriteString(w, strings.Join(lines, "\n"))
}
