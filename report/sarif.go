package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

// securitySeverity is what GitHub code scanning reads to rank a security
// result when no CVSS score is known: a number inside the band of each level
// (critical over 9.0, high 7.0 to 8.9, medium 4.0 to 6.9, low under 4.0).
var securitySeverity = map[vuln.Severity]string{
	vuln.Critical: "9.5",
	vuln.High:     "8.0",
	vuln.Medium:   "5.5",
	vuln.Low:      "2.0",
}

// WriteSARIF writes the scan as SARIF 2.1.0, in the shape GitHub code
// scanning accepts: one rule per vulnerability id, one result per finding
// and location.
func WriteSARIF(w io.Writer, s *Scan) error {
	run := sarif.NewRunWithInformationURI(toolName, toolURI)
	if s.ToolVersion != "" {
		run.Tool.Driver.WithVersion(s.ToolVersion)
	}
	findings := vuln.Sorted(s.Findings)

	// Findings come highest severity first, so a rule is made from the
	// worst finding of its id. Rules are listed by id, for stable indexes.
	worst := map[string]vuln.Finding{}
	var ids []string
	for _, f := range findings {
		if _, ok := worst[f.ID]; !ok {
			worst[f.ID] = f
			ids = append(ids, f.ID)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		addRule(run, worst[id])
	}

	for _, f := range findings {
		suppressions := sarifSuppressions(s, f)
		result := func() *sarif.Result {
			return sarif.NewRuleResult(f.ID).
				WithSuppressions(suppressions).
				WithRuleIndex(run.GetRuleIndex(f.ID)).
				WithLevel(sarifLevel(f.Severity))
		}
		// A finding a Dockerfile line brought in stands on that line (a
		// base's on its FROM line), so that code scanning annotates the
		// line to change.
		if lines := sarifOriginLocations(s, f); len(lines) > 0 {
			for _, l := range lines {
				run.AddResult(result().
					WithMessage(sarif.NewTextMessage(sarifMessage(f) + "; " + l.origin.String())).
					AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
						WithArtifactLocation(sarif.NewSimpleArtifactLocation(l.uri).WithURIBaseID(srcRoot)).
						WithRegion(sarif.NewRegion().WithStartLine(l.origin.StartLine).WithEndLine(max(l.origin.EndLine, l.origin.StartLine))))).
					// Not the line: an alert follows its instruction when
					// lines above it are added or removed.
					WithPartialFingerprints(map[string]string{"secure-build/origin/v1": fingerprint(f.ID, f.Package.PURL, l.uri, l.key)}))
			}
			continue
		}
		for _, loc := range sarifLocations(s, f) {
			run.AddResult(result().
				WithMessage(sarif.NewTextMessage(sarifMessage(f))).
				AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
					WithArtifactLocation(sarif.NewSimpleArtifactLocation(loc)).
					// GitHub places an alert on a line; a package has none,
					// so the first, as other scanners do.
					WithRegion(sarif.NewRegion().WithStartLine(1)))).
				// Two packages of one source (libssl3 and openssl) share an
				// id and a location; the package keeps their alerts apart
				// when GitHub matches results across uploads.
				WithPartialFingerprints(map[string]string{"secure-build/package/v1": fingerprint(f.ID, f.Package.PURL, loc)}))
		}
	}

	addViolations(run, s.Dockerfile, s.Verdict.Violations)

	inv := sarif.NewInvocation().WithExecutionSuccessful(true)
	if s.Database.Stale != "" {
		inv.AddToolExecutionNotification(sarif.NewNotification().
			WithLevel(sarif.LevelWarning).
			WithMessage(sarif.NewTextMessage(s.Database.Stale)))
	}
	// What could not be read is a problem of the tool's run, not a result:
	// the scan.incomplete rule is the result, each reason a notification.
	for _, gap := range s.Verdict.Incomplete {
		n := sarif.NewNotification().WithLevel(sarif.LevelError).
			WithMessage(sarif.NewTextMessage("incomplete scan: not read: " + gap.String()))
		if gap.Path != "" {
			n.WithLocations([]*sarif.Location{sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
				WithArtifactLocation(sarif.NewSimpleArtifactLocation(gap.Path)))})
		}
		inv.AddToolExecutionNotification(n)
	}
	run.AddInvocation(inv)

	rep := sarif.NewReport()
	rep.AddRun(run)
	if err := rep.PrettyWrite(w); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	return nil
}

// sarifSuppressions are a finding's suppressions by the policy, as code
// scanning reads them: accepted, external to the code, with the reason.
func sarifSuppressions(s *Scan, f vuln.Finding) []*sarif.Suppression {
	var out []*sarif.Suppression
	for _, x := range s.Verdict.Suppressed {
		if f.Same(x.Finding) {
			out = append(out, sarif.NewSuppression().WithKind("external").WithStatus("accepted").
				WithJustification(fmt.Sprintf("%s %s (%s): %s", x.By, x.Status, x.Source, x.Reason)))
		}
	}
	return out
}

// addViolations adds the broken policy rules, one SARIF rule each, placed
// on their Dockerfile line when they have one: in dockerfile, the
// Dockerfile's path in the build context, when known.
func addViolations(run *sarif.Run, dockerfile string, violations []policy.Violation) {
	for _, v := range violations {
		id := "secure-build/" + v.Rule
		if run.GetRuleIndex(id) < 0 {
			run.AddRule(id).WithName(v.Rule).WithDescription("secure-build policy rule " + v.Rule).
				WithProperties(sarif.NewPropertyBag().WithTags([]string{"policy"}))
		}
		level := sarif.LevelWarning
		if v.Action == policy.Fail {
			level = sarif.LevelError
		}
		res := sarif.NewRuleResult(id).WithRuleIndex(run.GetRuleIndex(id)).WithLevel(level).
			WithMessage(sarif.NewTextMessage(v.Message)).
			WithPartialFingerprints(map[string]string{"secure-build/rule/v1": fingerprint(v.Rule, v.Message)})
		if v.File != "" && v.Line > 0 {
			loc := sarif.NewSimpleArtifactLocation(v.File)
			if dockerfile != "" {
				loc = sarif.NewSimpleArtifactLocation((&url.URL{Path: strings.TrimLeft(dockerfile, "/")}).String()).WithURIBaseID(srcRoot)
			}
			res.AddLocation(sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
				WithArtifactLocation(loc).
				WithRegion(sarif.NewRegion().WithStartLine(v.Line))))
		}
		run.AddResult(res)
	}
}

func addRule(run *sarif.Run, f vuln.Finding) {
	summary := cmp.Or(oneLine(f.Summary), f.ID)
	props := sarif.NewPropertyBag().WithTags([]string{"security", "vulnerability", f.Severity.String()})
	switch {
	case f.Score > 0:
		props.Add("security-severity", strconv.FormatFloat(f.Score, 'f', 1, 64))
	case securitySeverity[f.Severity] != "":
		props.Add("security-severity", securitySeverity[f.Severity])
	}
	run.AddRule(f.ID).
		WithName(f.ID).
		WithDescription(summary).
		WithFullDescription(sarif.NewMultiformatMessageString().WithText(summary)).
		WithHelpURI(osvURL(f.ID)).
		WithHelp(sarifHelp(f, summary)).
		WithProperties(props)
}

// sarifHelp is the rule's help: what GitHub shows under "More info".
func sarifHelp(f vuln.Finding, summary string) *sarif.MultiformatMessageString {
	severity := f.Severity.String()
	if f.Score > 0 {
		severity += fmt.Sprintf(" (%s %.1f)", f.SeveritySource, f.Score)
	} else if f.SeveritySource != "" {
		severity += " (" + f.SeveritySource + ")"
	}
	text := []string{f.ID + ": " + summary, "Severity: " + severity}
	md := []string{fmt.Sprintf("**[%s](%s)**: %s", f.ID, osvURL(f.ID), summary), "", "Severity: " + severity}
	for _, list := range []struct {
		name string
		ids  []string
	}{{"Aliases", f.Aliases}, {"Upstream", f.Upstream}} {
		if len(list.ids) == 0 {
			continue
		}
		text = append(text, list.name+": "+strings.Join(list.ids, ", "))
		links := make([]string, len(list.ids))
		for i, id := range list.ids {
			links[i] = fmt.Sprintf("[%s](%s)", id, osvURL(id))
		}
		md = append(md, "", list.name+": "+strings.Join(links, ", "))
	}
	return sarif.NewMultiformatMessageString().
		WithText(strings.Join(text, "\n")).
		WithMarkdown(strings.Join(md, "\n"))
}

func sarifLevel(s vuln.Severity) string {
	switch s {
	case vuln.Critical, vuln.High:
		return sarif.LevelError
	case vuln.Medium:
		return sarif.LevelWarning
	}
	return sarif.LevelNote
}

func sarifMessage(f vuln.Finding) string {
	fix := vuln.NoFix
	if f.Fixable() {
		fix = "fixed in " + f.FixedVersion
	}
	return fmt.Sprintf("%s %s: %s (%s), %s", f.Package.Name, f.Package.Version, f.ID, f.Severity, fix)
}

// sarifLocations are the artifact URIs of a finding: its package's paths,
// relative to the scanned root as code scanning wants them. A package with
// no path stands at the target itself, since every result needs a location.
func sarifLocations(s *Scan, f vuln.Finding) []string {
	paths := f.Package.Locations
	if len(paths) == 0 {
		paths = []string{s.Target}
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		// url.URL escapes what a URI cannot hold (spaces, '%', '#').
		out = append(out, (&url.URL{Path: strings.TrimLeft(p, "/")}).String())
	}
	return out
}

// srcRoot is the uriBaseId of a Dockerfile location: the root of the
// sources the build context came from, the repository's root for code
// scanning.
const srcRoot = "%SRCROOT%"

// originLocation is a Dockerfile range that brought a finding in.
type originLocation struct {
	uri    string
	origin origin.Origin
	// key names the origin apart from its lines, for the fingerprint.
	key string
}

// sarifOriginLocations are the Dockerfile ranges of a finding's origins,
// each once; none when no origin has a line (a directory scan, a layer
// without provenance, an unknown origin) or no file to put it in.
func sarifOriginLocations(s *Scan, f vuln.Finding) []originLocation {
	var out []originLocation
	for _, o := range f.Package.Origins {
		file := cmp.Or(s.Dockerfile, o.File)
		if o.StartLine <= 0 || file == "" {
			continue
		}
		uri := (&url.URL{Path: strings.TrimLeft(file, "/")}).String()
		if slices.ContainsFunc(out, func(l originLocation) bool {
			return l.uri == uri && l.origin.StartLine == o.StartLine && l.origin.EndLine == o.EndLine
		}) {
			continue
		}
		key := string(o.Kind) + "\x00" + o.Stage + "\x00" + o.Image + "\x00" + o.Instruction
		out = append(out, originLocation{uri: uri, origin: o, key: key})
	}
	return out
}

func fingerprint(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}
