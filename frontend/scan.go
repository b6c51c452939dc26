package frontend

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/scan"
	"github.com/secure-build/secure-build/scanstep"
	"github.com/secure-build/secure-build/vuln"
)

// Scanner says where the scan step's program comes from: an image (the
// plugin sends its own executable as one, a named context of the build), or
// the image this build function runs from.
type Scanner struct {
	// Image is the scanner image, or a named context holding it: its whole
	// root filesystem is the scanner, and its loader and libraries if it
	// has any.
	Image string
	// Self is the image this build function runs from as a gateway
	// frontend: BuildKit's "source" option names it.
	Self bool
	// Path is the scanner's executable inside that root.
	Path string
}

// DBContext is the named build context that holds the vulnerability database.
const DBContext = "secure-build-db"

// Build args that tune the scan: the policy's threshold and scope, the
// database's allowed age, the database as an image, and the image's names.
// The plugin sets them from its flags.
const (
	ArgFailOn      = "SECURE_BUILD_FAIL_ON"
	ArgOnlyFixable = "SECURE_BUILD_ONLY_FIXABLE"
	ArgMaxDBAge    = "SECURE_BUILD_MAX_DB_AGE"
	ArgDBImage     = "SECURE_BUILD_DB_IMAGE"
	ArgImage       = "SECURE_BUILD_IMAGE"
	ArgIncomplete  = "SECURE_BUILD_INCOMPLETE"
	// ArgOrigins=false leaves findings without origins: the scan step
	// mounts and traces nothing but the final stage (a gate on what the
	// build added then counts every finding).
	ArgOrigins = "SECURE_BUILD_ORIGINS"
)

// settings are the build args that tune the scan. failOn and onlyFixable,
// when given, override the policy file, as the plugin's flags do.
type settings struct {
	failOn      *policy.Level
	onlyFixable *bool
	// incomplete is what an incomplete scan does (the rule scan.incomplete).
	incomplete *policy.Action
	// image is what the build arg SECURE_BUILD_IMAGE names the image being
	// built (the plugin passes its -t names), for VEX statements whose
	// product is the image.
	image           []string
	noOrigins       bool
	maxDBAge        time.Duration
	sourceDateEpoch string
}

func readSettings(args map[string]string) (settings, error) {
	s := settings{maxDBAge: vuln.DefaultMaxAge}
	if v, ok := args[ArgFailOn]; ok {
		level, err := policy.ParseLevel(v)
		if err != nil {
			return s, fmt.Errorf("build arg %s: %w", ArgFailOn, err)
		}
		s.failOn = &level
	}
	if v, ok := args[ArgOnlyFixable]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("build arg %s=%q: want true or false", ArgOnlyFixable, v)
		}
		s.onlyFixable = &b
	}
	if v, ok := args[ArgIncomplete]; ok {
		a, err := policy.ParseAction(v)
		if err != nil {
			return s, fmt.Errorf("build arg %s: %w", ArgIncomplete, err)
		}
		s.incomplete = &a
	}
	if v, ok := args[ArgOrigins]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("build arg %s=%q: want true or false", ArgOrigins, v)
		}
		s.noOrigins = !b
	}
	if v, ok := args[ArgMaxDBAge]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return s, fmt.Errorf("build arg %s=%q: want a duration such as 168h", ArgMaxDBAge, v)
		}
		s.maxDBAge = d
	}
	if v := args[ArgImage]; v != "" {
		s.image = policy.ImageIdentities(strings.Split(v, ",")...)
	}
	s.sourceDateEpoch = args["SOURCE_DATE_EPOCH"]
	return s, nil
}

// inputs are the scan step's states shared by every platform.
type inputs struct {
	scanner     llb.State
	scannerPath string
	db          llb.State
}

// noDatabase is the error of a build given no database.
const noDatabase = "no vulnerability database for the scan: give one as the build context " + DBContext +
	" (docker secure build --db DIR, or --build-context " + DBContext + "=DIR|oci-layout://...|docker-image://...) " +
	"or name an image holding it with the build arg " + ArgDBImage + " (made by 'docker secure db push'); " +
	"get the data with 'docker secure db update' or 'docker secure db import FILE.zip'"

func stepInputs(ctx context.Context, bc *dockerui.Client, s Scanner, buildPlatform ocispecs.Platform) (inputs, error) {
	db, err := database(ctx, bc, buildPlatform)
	if err != nil {
		return inputs{}, err
	}
	in := inputs{db: db, scannerPath: s.Path}
	image := s.Image
	if s.Self {
		if image = bc.BuildOpts().Opts["source"]; image == "" {
			return inputs{}, fmt.Errorf("no scanner: this frontend was not started from an image (no source option)")
		}
	}
	if image == "" {
		return inputs{}, fmt.Errorf("no scanner: no image was given")
	}
	st, err := imageState(ctx, bc, image, buildPlatform, "[secure-build] load the scanner image "+image)
	if err != nil {
		return inputs{}, fmt.Errorf("scanner image %s: %w", image, err)
	}
	in.scanner = st.Platform(buildPlatform)
	return in, nil
}

// database is the vulnerability database's state: the named context
// secure-build-db, else the image the build arg SECURE_BUILD_DB_IMAGE names.
// Without either the build fails, closed.
func database(ctx context.Context, bc *dockerui.Client, buildPlatform ocispecs.Platform) (llb.State, error) {
	db, err := namedContext(ctx, bc, DBContext, buildPlatform)
	if err != nil {
		return llb.State{}, fmt.Errorf("build context %s: %w", DBContext, err)
	}
	if db != nil {
		return *db, nil
	}
	if ref := bc.BuildArgs[ArgDBImage]; ref != "" {
		st, err := imageState(ctx, bc, ref, buildPlatform, "[secure-build] load the database image "+ref)
		if err != nil {
			return llb.State{}, fmt.Errorf("build arg %s=%s: %w", ArgDBImage, ref, err)
		}
		return st, nil
	}
	return llb.State{}, fmt.Errorf("%s", noDatabase)
}

// imageState is an image for the build platform: a named context of that
// name when the build has one (a mirror, a local OCI layout), else the
// image itself.
func imageState(ctx context.Context, bc *dockerui.Client, ref string, platform ocispecs.Platform, name string) (llb.State, error) {
	st, err := namedContext(ctx, bc, ref, platform)
	if err != nil {
		return llb.State{}, err
	}
	if st != nil {
		return *st, nil
	}
	return llb.Image(ref, llb.Platform(platform), llb.WithCustomName(name)), nil
}

// namedContext loads the build's named context name for platform, or nil
// when the build has none of that name.
func namedContext(ctx context.Context, bc *dockerui.Client, name string, platform ocispecs.Platform) (*llb.State, error) {
	nc, err := bc.NamedContext(name, dockerui.ContextOpt{NoDockerignore: true, Platform: &platform})
	if err != nil || nc == nil {
		return nil, err
	}
	st, _, err := nc.Load(ctx)
	return st, err
}

// stepOutput is what one platform's scan step left.
type stepOutput struct {
	ref    client.Reference
	result scanstep.Result
	spdx   []byte
	sbom   *sbom.SBOM
	extras []string // the extra stages' SBOM files
	vertex digest.Digest
	// chain is what the step's Origins index.
	chain buildChain
}

// runScanStep runs the scanner over the final stage (and the extra stages
// BUILDKIT_SBOM_SCAN_STAGE asks for) with no network, every input read-only,
// and reads its output: reading it is what makes BuildKit run the step now,
// before the policy decides, not lazily at export.
func runScanStep(ctx context.Context, c client.Client, in inputs, platform string, df *dockerfile2llb.Result, s settings, fullSBOM bool, cacheImports []client.CacheOptionsEntry) (*stepOutput, error) {
	chain, err := finalChain(ctx, df.SBOM.Core)
	if err != nil {
		// Findings are then of unknown origin, which a gate on what the
		// build added counts: the build goes on, closed.
		chain = buildChain{unknown: err.Error()}
	}
	traced := chain.states
	if s.noOrigins {
		chain.off, traced = true, nil
	}
	runOpts := []llb.RunOption{
		llb.Args([]string{in.scannerPath, scanstep.Command, "--states", strconv.Itoa(len(traced))}),
		llb.Network(llb.NetModeNone),
		// Root in the step's sandbox, whatever the scanner image's USER:
		// the scanned root's files are not all readable by others.
		llb.User("0:0"),
		// The step's heap is small and lives a second: collecting it at
		// Go's default pace ran the collector a dozen times, 7% of the
		// step's time. The soft limit brings the default pace back for a
		// root whose catalog holds much more.
		llb.AddEnv("GOGC", "400"),
		llb.AddEnv("GOMEMLIMIT", "512MiB"),
		llb.WithCustomNamef("[secure-build %s] scan the final stage", platform),
	}
	if s.sourceDateEpoch != "" {
		runOpts = append(runOpts, llb.AddEnv("SOURCE_DATE_EPOCH", s.sourceDateEpoch))
	}
	if df.IsIgnoreCache {
		runOpts = append(runOpts, llb.IgnoreCache)
	}
	run := in.scanner.Run(runOpts...)
	run.AddMount("/tmp", llb.Scratch(), llb.Tmpfs())
	// The stages are keyed by their definitions, which already hold the
	// content of every local input: hashing their whole files again for the
	// step's cache key would cost a read of each root on every cold build.
	noHash := llb.ContentCache(llb.MountContentCacheOff)
	run.AddMount(scanstep.SourceDir, df.SBOM.Core, llb.Readonly, noHash)
	// The states before the final one, for attribution. They are the
	// final stage's own parents, so mounting them reads no new data.
	for i, l := range traced[:max(len(traced)-1, 0)] {
		if l == nil {
			continue
		}
		st, err := stateAt(chain.def, l.out)
		if err != nil {
			return nil, fmt.Errorf("state %d of the final stage: %w", i, err)
		}
		run.AddMount(path.Join(scanstep.ChainDir, fmt.Sprintf("%02d", i)), st, llb.Readonly, noHash)
	}
	var extras []string
	for name, st := range df.SBOM.Extras {
		run.AddMount(path.Join(scanstep.ExtrasDir, scanstep.ExtraSBOMPrefix+name), st, llb.Readonly, noHash)
		extras = append(extras, scanstep.ExtraSBOMPrefix+name+".spdx.json")
	}
	sort.Strings(extras)
	// The database image is keyed by its manifest digest, which names its
	// content: hashing its files again would fetch and read all of it to
	// make the step's cache key, before the step is known to run.
	run.AddMount(scanstep.DBDir, in.db, llb.Readonly, noHash)
	out := run.AddMount(scanstep.OutDir, llb.Scratch())

	def, err := out.Marshal(ctx)
	if err != nil {
		return nil, fmt.Errorf("marshal the scan step: %w", err)
	}
	if err := startBuild(ctx, c, df.SBOM.Core, cacheImports); err != nil {
		return nil, err
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB(), CacheImports: cacheImports})
	if err != nil {
		return nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	b, err := ref.ReadFile(ctx, client.ReadRequest{Filename: scanstep.ResultFile})
	if err != nil {
		return nil, fmt.Errorf("read the scan step's %s: %w", scanstep.ResultFile, err)
	}
	o := &stepOutput{ref: ref, extras: extras, vertex: outputVertex(def), chain: chain}
	if err := json.Unmarshal(b, &o.result); err != nil {
		return nil, fmt.Errorf("read the scan step's %s: %w", scanstep.ResultFile, err)
	}
	if o.result.Format != scanstep.ResultFormat {
		return nil, fmt.Errorf("the scan step's %s is format %d, this build reads format %d: the scanner is another version of secure-build (give a --scanner-image of this version)", scanstep.ResultFile, o.result.Format, scanstep.ResultFormat)
	}
	if o.result.States != len(traced) {
		return nil, fmt.Errorf("the scan step traced %d states of the final stage, the build has %d", o.result.States, len(traced))
	}
	// The verdict and the attestations need only the step's findings; the
	// whole SBOM is read when the caller writes it or a report of it.
	o.sbom = &sbom.SBOM{Source: "final stage", Distro: o.result.Distro}
	if !fullSBOM {
		return o, nil
	}
	if o.spdx, err = ref.ReadFile(ctx, client.ReadRequest{Filename: scanstep.SBOMFile}); err != nil {
		return nil, fmt.Errorf("read the scan step's %s: %w", scanstep.SBOMFile, err)
	}
	if o.sbom, err = sbom.DecodeSPDX(bytes.NewReader(o.spdx), platform+" "+scanstep.SBOMFile); err != nil {
		return nil, err
	}
	return o, nil
}

// outputVertex is the digest of the op whose output a definition returns:
// its last entry is the terminal op, whose one input is that output.
func outputVertex(def *llb.Definition) digest.Digest {
	if len(def.Def) == 0 {
		return ""
	}
	var op pb.Op
	if err := op.UnmarshalVT(def.Def[len(def.Def)-1]); err != nil || len(op.Inputs) == 0 {
		return ""
	}
	return digest.Digest(op.Inputs[0].Digest)
}

// PlatformScan is one platform's scan and the verdict made on this build.
type PlatformScan struct {
	Platform string
	Report   *report.Scan
	// SPDX is the final stage's SBOM as attached, and Report.SBOM its
	// packages, when Options.FullSBOM asked for them.
	SPDX []byte
	// Packages is how many packages the final stage holds.
	Packages int
	// DatabaseAge is how old the oldest archive of the database was when
	// the verdict was made.
	DatabaseAge time.Duration
}

// decide applies the policy to a step's findings, now: a cached step gives
// the same findings, but the database's age and the verdict are today's.
// facts are the build's, for the practices.
func decide(platform string, out *stepOutput, s settings, pol *policy.Policy, facts *policy.BuildFacts, toolVersion string) PlatformScan {
	now := time.Now().UTC()
	m := &scan.Matched{SBOM: out.sbom, Findings: out.result.Findings, Incomplete: out.result.Incomplete, Updated: out.result.Updated}
	rep := scan.Evaluate(m, pol, scan.Options{
		Target:      platform + " final stage",
		Image:       s.image,
		Build:       facts,
		Database:    DBContext,
		MaxDBAge:    s.maxDBAge,
		Now:         now,
		ScannedAt:   out.result.EndedAt,
		ToolVersion: toolVersion,
	})
	return PlatformScan{Platform: platform, Report: rep, SPDX: out.spdx, Packages: out.result.Packages, DatabaseAge: now.Sub(vuln.OldestUpdate(out.result.Updated))}
}

// maxFindingWarnings caps the findings shown as build warnings; the report
// file and the attestation hold them all.
const maxFindingWarnings = 25

// warnFindings shows the scan as BuildKit warnings, so they show in every
// BuildKit client and CI log (findingWarnings). A finding that a Dockerfile
// line brought in points at that line, so that clients print it as they do
// a lint warning's.
func warnFindings(ctx context.Context, wv *warnVertex, ps PlatformScan, sm *llb.SourceMap) {
	for _, w := range findingWarnings(ps) {
		opts := client.WarnOpts{Level: 1}
		if w.at != nil && sm != nil {
			opts.SourceInfo = sourceInfo(sm)
			opts.Range = []*pb.Range{{Start: &pb.Position{Line: int32(w.at.StartLine)}, End: &pb.Position{Line: int32(w.at.EndLine)}}}
		}
		wv.warn(ctx, w.msg, opts)
	}
}

// scanWarning is one warning about a scan, and the Dockerfile lines it is
// about when it has some.
type scanWarning struct {
	msg string
	at  *origin.Origin
}

// findingWarnings are the build's warnings about its scan: the stale
// database, what could not be read, and the findings in the order the
// table lists them (fixable first), each with where it came from. What
// fails the policy is left to the build's error, the verdict shown last,
// so that it is said once: the failing findings, and the places not read
// when that fails the build.
func findingWarnings(ps PlatformScan) []scanWarning {
	rep := ps.Report
	var out []scanWarning
	if rep.Database.Stale != "" {
		out = append(out, scanWarning{msg: rep.Database.Stale})
	}
	incompleteFails := slices.ContainsFunc(rep.Verdict.Violations, func(x policy.Violation) bool {
		return x.Rule == policy.RuleIncomplete && x.Action == policy.Fail
	})
	if !incompleteFails {
		for _, gap := range rep.Verdict.Incomplete {
			out = append(out, scanWarning{msg: fmt.Sprintf("%s: incomplete scan: not read: %s", ps.Platform, report.Printable(gap.String()))})
		}
	}
	var findings []vuln.Finding
	for _, f := range report.Ordered(rep) {
		if !slices.ContainsFunc(rep.Verdict.Failing, f.Same) {
			findings = append(findings, f)
		}
	}
	for i, f := range findings {
		if i == maxFindingWarnings {
			out = append(out, scanWarning{msg: fmt.Sprintf("%s: %d more findings; write them all with --report FILE", ps.Platform, len(findings)-i)})
			break
		}
		w := scanWarning{msg: fmt.Sprintf("%s: %s", ps.Platform, findingLine(f))}
		if len(f.Package.Origins) > 0 {
			o := f.Package.Origins[len(f.Package.Origins)-1]
			w.msg += " (" + report.Printable(o.String()) + ")"
			if o.StartLine > 0 {
				w.at = &o
			}
		}
		for _, x := range rep.Verdict.Suppressed {
			if f.Same(x.Finding) {
				w.msg += fmt.Sprintf(" [suppressed by %s %s: %s]", x.By, x.Source, x.Reason)
				break
			}
		}
		out = append(out, w)
	}
	return out
}

// findingLine is one finding as a person reads it: severity, id, package,
// installed -> fixed.
func findingLine(f vuln.Finding) string {
	return fmt.Sprintf("%s %s in %s %s -> %s", f.Severity, f.ID, f.Package.Name, f.Package.Version, f.Fix())
}

func failingLines(failing []vuln.Finding) []string {
	var out []string
	for _, f := range vuln.Sorted(failing) {
		out = append(out, findingLine(f))
	}
	return out
}

// SortScans returns scans in platform order, the order they are shown in.
func SortScans(scans []PlatformScan) []PlatformScan {
	out := slices.Clone(scans)
	slices.SortFunc(out, func(a, b PlatformScan) int { return cmp.Compare(a.Platform, b.Platform) })
	return out
}
