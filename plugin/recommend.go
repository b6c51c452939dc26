package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/docker/cli/cli/command"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/secure-build/secure-build/baseimage"
	"github.com/secure-build/secure-build/dockerfile"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/scan"
)

type recommendOptions struct {
	file         string
	target       string
	platform     string
	buildArgs    []string
	format       string
	alternatives bool
	perBucket    int
	policyFile   string
	failOn       string
	db           dbFlags
}

func newRecommendCmd(dockerCli command.Cli) *cobra.Command {
	var opts recommendOptions
	cmd := &cobra.Command{
		Use:   "recommend [OPTIONS] [IMAGE]",
		Short: "Advise on a base image: refresh, update (patch, minor, major), alternatives, each with what it fixes",
		Long: `Advise on a base image, asking its registry and scanning the candidates with
the offline database. IMAGE is a registry reference as a FROM line names it
(HOST/app:1.0, or pinned HOST/app:1.0@sha256:...); or -f names a Dockerfile
whose final stage's base image is taken (--target, --build-arg and
--platform as for the build).

Refresh: a pinned base whose tag now points to another image for the
platform: when that image was built, and what it fixes.
Update: the later tags compatible with the current one, as Renovate and
Dependabot choose them: the same flavor (-slim, -alpine3.20), the same
precision (3.12 stays two numbers), no pre-release (rc, beta), no commit or
date tag unless the current one is, never a downgrade. Tags naming the same
image are one candidate. The best --candidates of each bucket (patch, minor,
major) are scanned, the platform's image only, and ranked by the policy's
gating findings fixed, then all findings fixed, then size.
Alternatives (--alternatives): the other flavors of the repository, with a
warning when the distribution changes.

Scans are kept in the user cache per image digest, database and scanner, so
a second run scans nothing; the tag list is kept 10 minutes. Credentials come
from the Docker config, as for push.

Exit status: 0 advice given (whatever it says); 2 a usage or input error, or
a registry that cannot be read (offline, denied, rate limited).`,
		Example: `  # Candidates for a base image, and what each fixes
  docker secure recommend registry.example.com/team/python:3.12-slim

  # The base of a Dockerfile's final stage, pinned: is a refresh out?
  docker secure recommend -f Dockerfile --platform linux/arm64

  # Other flavors too, as markdown for a pull request comment
  docker secure recommend --alternatives --format markdown debian:12.4-slim`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRecommend(cmd.Context(), dockerCli, opts, args)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.file, "file", "f", "", "Dockerfile whose final stage's base image to advise on")
	flags.StringVar(&opts.target, "target", "", "With -f: the stage built, as --target of the build")
	flags.StringArrayVar(&opts.buildArgs, "build-arg", nil, "With -f: a build arg the FROM lines may use (NAME=VALUE)")
	flags.StringVar(&opts.platform, "platform", "", "The platform's image to compare (default linux/"+runtime.GOARCH+")")
	flags.StringVar(&opts.format, "format", "table", "Output format: "+strings.Join(baseimage.Formats, ", "))
	flags.BoolVar(&opts.alternatives, "alternatives", false, "Also the other flavors of the repository (slim, alpine, ...)")
	flags.IntVar(&opts.perBucket, "candidates", baseimage.DefaultPerBucket, "How many candidates of each bucket to scan")
	flags.StringVar(&opts.policyFile, "policy", "", "Policy file whose threshold says which findings gate (ranks the candidates)")
	flags.StringVar(&opts.failOn, "fail-on", "", "Lowest severity that gates, overriding the policy: critical, high, medium, low, unknown, none")
	opts.db.bind(flags)
	return cmd
}

func runRecommend(ctx context.Context, dockerCli command.Cli, opts recommendOptions, args []string) error {
	if !slices.Contains(baseimage.Formats, opts.format) {
		return fmt.Errorf("--format %q: want one of %s", opts.format, strings.Join(baseimage.Formats, ", "))
	}
	if opts.perBucket < 1 {
		return fmt.Errorf("--candidates %d: want 1 or more", opts.perBucket)
	}
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if opts.platform != "" {
		p, err := v1.ParsePlatform(opts.platform)
		if err != nil {
			return fmt.Errorf("--platform %q: %w", opts.platform, err)
		}
		platform = *p
	}
	image, err := recommendImage(opts, args, platform)
	if err != nil {
		return err
	}
	threshold, err := recommendThreshold(ctx, opts)
	if err != nil {
		return err
	}
	db, err := opts.db.open()
	if err != nil {
		return err
	}
	defer db.Close()
	stderr := dockerCli.Err()
	if stale := scan.Staleness(db.Dir(), db.Updated(), opts.db.maxAge, time.Now()); stale != "" {
		fmt.Fprintf(stderr, "warning: %s\n", stale)
	}
	cache, err := baseimage.DefaultCache()
	if err != nil {
		return err
	}
	advice, err := baseimage.Recommend(ctx, baseimage.Request{
		Image:          image,
		Platform:       platform,
		Gates:          threshold.Gates,
		PerBucket:      opts.perBucket,
		Updates:        true,
		Alternatives:   opts.alternatives,
		Scanner:        baseimage.DBScanner{DB: db},
		Cache:          cache,
		Database:       baseimage.DatabaseVersion(db),
		ScannerVersion: scannerVersion(),
		Progress:       func(s string) { fmt.Fprintln(stderr, s) },
	})
	if err != nil {
		return err
	}
	return writeOutput(dockerCli.Out(), "", func(w io.Writer) error { return baseimage.Write(w, opts.format, advice) })
}

// recommendImage is the image to advise on: the argument, or the external
// base of the Dockerfile's final stage.
func recommendImage(opts recommendOptions, args []string, platform v1.Platform) (string, error) {
	switch {
	case len(args) == 1 && opts.file != "":
		return "", fmt.Errorf("name an IMAGE or a Dockerfile with -f, not both")
	case len(args) == 1:
		return strings.TrimPrefix(args[0], registry.RegistryPrefix), nil // as scan names it, registry:REF
	case opts.file == "":
		return "", fmt.Errorf("name an IMAGE, or a Dockerfile with -f")
	}
	src, err := os.ReadFile(opts.file)
	if err != nil {
		return "", fmt.Errorf("read Dockerfile: %w", err)
	}
	facts, err := dockerfile.Read(opts.file, src, dockerfile.Input{Target: opts.target, BuildArgs: keyValues(opts.buildArgs), PlatformArgs: platformArgs(platform)})
	if err != nil {
		return "", err
	}
	b := facts.Base
	if b.Ref == "" {
		return "", fmt.Errorf("%s:%d: the final stage's base %q is not a registry image: nothing to advise on", opts.file, b.Line, b.Name)
	}
	return b.Ref, nil
}

// platformArgs are BuildKit's automatic platform ARGs for a build of p on
// p, which FROM lines may use.
func platformArgs(p v1.Platform) map[string]string {
	target := platforms.Format(platforms.Normalize(platforms.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}))
	args := map[string]string{}
	for _, prefix := range []string{"TARGET", "BUILD"} {
		args[prefix+"PLATFORM"], args[prefix+"OS"], args[prefix+"ARCH"], args[prefix+"VARIANT"] = target, p.OS, p.Architecture, p.Variant
	}
	return args
}

// recommendThreshold is the threshold that says which findings gate: the
// policy file's, --fail-on's, else the default.
func recommendThreshold(ctx context.Context, opts recommendOptions) (policy.Threshold, error) {
	t := policy.Default
	if opts.policyFile != "" {
		p, err := scan.LoadPolicy(ctx, opts.policyFile)
		if err != nil {
			return t, err
		}
		t = p.Threshold
	}
	if opts.failOn != "" {
		level, err := policy.ParseLevel(opts.failOn)
		if err != nil {
			return t, fmt.Errorf("--fail-on %w", err)
		}
		t.FailOn = level
	}
	return t, nil
}

// scannerVersion names this scanner for the scan cache: the version, and
// the executable's path, size and time, so that a rebuilt "dev" binary does
// not take the scans of another.
func scannerVersion() string {
	v := Version
	exe, err := os.Executable()
	if err != nil {
		return v
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return v
	}
	if fi, err := os.Stat(exe); err == nil {
		v += " " + exe + " " + strconv.FormatInt(fi.Size(), 10) + " " + fi.ModTime().UTC().String()
	}
	return v
}
