package plugin

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/secure-build/secure-build/baseimage"
	"github.com/secure-build/secure-build/dockerfile"
	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// baseAdviceTimeout bounds what the advice may add to a build: a slow
// registry gives a line saying so, not a hung build.
const baseAdviceTimeout = 30 * time.Second

// baseAdvisor gives each platform's scan its base-image advice while the
// build runs, before the verdict is applied: is the base's tag refreshed,
// and which later tag fixes the most. The advice is one line a platform,
// kept in the verdict's notes (so in the reports and the scan attestation)
// and printed after the verdicts; or one line saying why there is none
// (offline, denied, rate limited), which fails nothing unless the policy's
// base-image.refresh fails. A broken refresh rule is a violation of the
// verdict: the build fails before anything is exported or pushed.
//
// The plugin reads the Dockerfile and the policy file itself: the frontend
// resolves the base's tag but cannot list tags. A Dockerfile from stdin or
// a URL context, or a policy sent as a build arg, are not read here.
type baseAdvisor struct {
	ctx  context.Context
	opts buildOptions
	pol  *policy.Policy
	name string
	src  []byte
	// session holds what the early asks (prefetch) learn, for the advice
	// made once each platform's scan is in; cancel ends them.
	session     *baseimage.Session
	cancel      context.CancelFunc
	prefetching sync.WaitGroup
	// oneAtATime runs the early asks of several platforms one after
	// another: they pull and scan beside the build.
	oneAtATime chan struct{}
	// scanner scans with the local database, opened once for all asks.
	scanner *lazyDBScanner

	mu         sync.Mutex
	lines      map[string]string // by platform
	prefetched map[string]bool
}

// newBaseAdvisor is the advisor of a build; nil when there is no advice to
// give: the policy turns it off, or no local Dockerfile names the base.
func newBaseAdvisor(ctx context.Context, opts buildOptions) *baseAdvisor {
	pol := buildPolicy(opts)
	if pol.BaseImage.Refresh == policy.Off {
		return nil
	}
	name, src, ok := readDockerfile(opts)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	return &baseAdvisor{ctx: ctx, cancel: cancel, opts: opts, pol: pol, name: name, src: src,
		session: &baseimage.Session{}, oneAtATime: make(chan struct{}, 1), scanner: &lazyDBScanner{open: opts.db.open},
		lines: map[string]string{}, prefetched: map[string]bool{}}
}

// prefetch asks the registry, while the build runs, what the advice of
// platform needs whatever the build finds: the tag and the image it names
// now, the pinned image, the tag list, the candidates, and the scans of
// them all, so that the advice made once the scan is in takes them from
// the session rather than doing them between the scan and the export. Its
// own answer, made without the build's findings, is dropped. It is bounded
// by the build, not by the advice's timeout: the advice waits for what it
// has under way rather than starting it again.
func (a *baseAdvisor) prefetch(platform ocispecs.Platform) {
	if a == nil {
		return
	}
	p := v1.Platform{OS: platform.OS, Architecture: platform.Architecture, Variant: platform.Variant}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.prefetched[p.String()] {
		return
	}
	a.prefetched[p.String()] = true
	a.prefetching.Go(func() {
		select {
		case a.oneAtATime <- struct{}{}:
			defer func() { <-a.oneAtATime }()
		case <-a.ctx.Done():
			return
		}
		// No findings: the base is scanned too, for the advice of a build
		// that has none of base origin.
		a.recommend(a.ctx, p, "", nil, nil)
	})
}

// close ends the asks still running once the build is over.
func (a *baseAdvisor) close() {
	if a == nil {
		return
	}
	a.cancel()
	a.prefetching.Wait()
	a.scanner.close()
}

// advise adds the advice on s's base to its verdict (frontend.Options.OnScan
// lets it, before the verdict is applied).
func (a *baseAdvisor) advise(s frontend.PlatformScan) {
	ctx, cancel := context.WithTimeout(a.ctx, baseAdviceTimeout)
	defer cancel()
	line, v := a.platformAdvice(ctx, s)
	if line == "" {
		return
	}
	a.mu.Lock()
	a.lines[s.Platform] = line
	a.mu.Unlock()
	verdict := &s.Report.Verdict
	verdict.Notes = append(verdict.Notes, line)
	if v != nil {
		verdict.Violations = append(verdict.Violations, *v)
		if v.Action == policy.Fail {
			verdict.Pass = false
		}
	}
}

// print writes the advice lines, by platform.
func (a *baseAdvisor) print(w io.Writer) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range slices.Sorted(maps.Keys(a.lines)) {
		fmt.Fprintf(w, "secure-build %s: %s\n", p, report.Printable(a.lines[p]))
	}
}

// platformAdvice is the advice line of one platform's build, and the
// refresh rule it breaks; "" when the base is not a registry image or
// there is nothing to advise.
func (a *baseAdvisor) platformAdvice(ctx context.Context, s frontend.PlatformScan) (string, *policy.Violation) {
	platform, err := v1.ParsePlatform(s.Platform)
	if err != nil {
		return "", nil
	}
	digest, findings := buildBase(s.Report.Findings)
	advice, err := a.recommend(ctx, *platform, digest, findings, s.Report.Threshold.Gates)
	if err != nil {
		return "base advice unavailable: " + firstLine(err.Error()), a.pol.RefreshViolation(0, "", err)
	}
	if advice == nil {
		return "", nil // not a registry base
	}
	line := baseimage.Line(advice)
	if line == "" {
		return "", nil // nothing to advise: no line
	}
	gating := 0
	if advice.Refresh != nil {
		gating = advice.Refresh.Fixed.Gating
	}
	return line, a.pol.RefreshViolation(gating, line, nil)
}

// recommend is the advice on the base of the platform's build, which used
// the base image digest and found findings of base origin; nil when the
// base is not a registry image.
func (a *baseAdvisor) recommend(ctx context.Context, platform v1.Platform, digest string, findings []vuln.Finding, gates func(vuln.Finding) bool) (*baseimage.Advice, error) {
	facts, err := dockerfile.Read(a.name, a.src, dockerfile.Input{
		Target: a.opts.target, BuildArgs: keyValues(a.opts.buildArgs), PlatformArgs: platformArgs(platform), NamedContexts: keyValues(a.opts.buildContexts),
	})
	if err != nil || facts.Base.Ref == "" {
		return nil, nil
	}
	cache, err := baseimage.DefaultCache()
	if err != nil {
		return nil, err
	}
	// The local database scans the candidates. A build that was sent
	// another one may have none here: that matters only when a candidate
	// is to be scanned. It is opened (every archive's checksum read) only
	// then: most builds take the advice from the cache or cannot reach the
	// registry, and need no more than its state, the cache's key.
	var scanner baseimage.Scanner
	database := ""
	statuses, err := a.opts.db.statuses()
	if err == nil {
		scanner, database = a.scanner, baseimage.StatusVersion(statuses)
	} else {
		scanner = noDatabase{err}
	}
	return baseimage.Recommend(ctx, baseimage.Request{
		Image:          facts.Base.Ref,
		Platform:       platform,
		BaseDigest:     digest,
		BaseFindings:   findings,
		Gates:          gates,
		PerBucket:      1,
		Updates:        true,
		Scanner:        scanner,
		Cache:          cache,
		Database:       database,
		ScannerVersion: scannerVersion(),
		Session:        a.session,
	})
}

// lazyDBScanner scans with the local database, opened at the first scan.
type lazyDBScanner struct {
	open func() (*vuln.DB, error)
	once sync.Once
	db   *vuln.DB
	err  error
}

func (s *lazyDBScanner) Scan(ctx context.Context, pinned string) (*baseimage.ScanResult, error) {
	s.once.Do(func() { s.db, s.err = s.open() })
	if s.err != nil {
		return nil, s.err
	}
	return baseimage.DBScanner{DB: s.db}.Scan(ctx, pinned)
}

func (s *lazyDBScanner) close() {
	s.once.Do(func() {}) // no scan now opens it
	if s.db != nil {
		s.db.Close()
	}
}

// noDatabase is the scanner of an advice with no local database: it says
// why when a candidate is to be scanned.
type noDatabase struct{ err error }

func (n noDatabase) Scan(context.Context, string) (*baseimage.ScanResult, error) { return nil, n.err }

// buildBase is what the build's attribution says of its base: the digest
// it resolved to, and the findings of base origin (non-nil once any finding
// is attributed). Without attribution both are empty: the base is then
// scanned whole.
func buildBase(findings []vuln.Finding) (string, []vuln.Finding) {
	digest, attributed := "", false
	for _, f := range findings {
		for _, o := range f.Package.Origins {
			attributed = true
			if o.Kind == origin.Base && o.Digest != "" {
				digest = o.Digest
			}
		}
	}
	if !attributed {
		return "", nil
	}
	return digest, append([]vuln.Finding{}, baseimage.BaseFindings(findings)...)
}

// buildPolicy is the policy the build applies, as far as the plugin can
// read it: --policy, else secure-build.yaml at the root of a local context,
// else the defaults. A file the plugin cannot read gives the defaults: the
// build read it already and said what is wrong with it.
func buildPolicy(opts buildOptions) *policy.Policy {
	path := opts.policyFile
	if path == "" {
		path = filepath.Join(opts.contextPath, "secure-build.yaml")
		if _, err := os.Stat(path); err != nil {
			return policy.Defaults()
		}
	}
	data, err := policy.ReadFile(path)
	if err != nil {
		return policy.Defaults()
	}
	p, err := policy.Parse(path, data)
	if err != nil {
		return policy.Defaults()
	}
	return p
}

// readDockerfile reads the build's Dockerfile when it is a local file: -f,
// else Dockerfile in a local context folder.
func readDockerfile(opts buildOptions) (string, []byte, bool) {
	path := opts.file
	if path == "-" {
		return "", nil, false
	}
	if path == "" {
		if fi, err := os.Stat(opts.contextPath); err != nil || !fi.IsDir() {
			return "", nil, false
		}
		path = filepath.Join(opts.contextPath, "Dockerfile")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, false
	}
	return filepath.Base(path), src, true
}

// keyValues reads NAME=VALUE flags; NAME alone takes the environment's
// value, as docker build's --build-arg does.
func keyValues(list []string) map[string]string {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			v, ok = os.LookupEnv(k)
		}
		if ok {
			out[k] = v
		}
	}
	return out
}

// firstLine is an error's first line: the advice is one line.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
