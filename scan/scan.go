// Package scan is secure-build's scan pipeline: catalog a root filesystem
// or an image into an SBOM, match its packages against the vulnerability
// database, apply the policy and make the report. The commands run it whole
// (Run). A build runs its halves apart: its scan step, which BuildKit
// caches, catalogs and matches (Match), and the build function evaluates on
// every build (Evaluate), so that a cached scan still sees an ignore entry
// expire and the database age.
package scan

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// Matched is an SBOM matched against the database: everything the verdict
// is made of, and what a build's scan step keeps.
type Matched struct {
	SBOM     *sbom.SBOM
	Findings []vuln.Finding
	// Incomplete names what decides findings and could not be read: the
	// catalog's gaps, then the match's.
	Incomplete []sbom.Incompleteness
	// Updated is when each archive of the database was last imported.
	Updated map[string]time.Time
}

// Match matches doc's packages against db.
func Match(db *vuln.DB, doc *sbom.SBOM) (*Matched, error) {
	findings, gaps, err := db.Match(doc.Packages)
	if err != nil {
		return nil, fmt.Errorf("match the packages of %s: %w", doc.Source, err)
	}
	return &Matched{
		SBOM:       doc,
		Findings:   findings,
		Incomplete: slices.Concat(doc.Incomplete, gaps),
		Updated:    db.Updated(),
	}, nil
}

// Options are what a verdict and its report need besides the findings.
type Options struct {
	// Target names what was scanned, as the user named it.
	Target string
	// Image are the identities of the image scanned
	// (policy.ImageIdentities), for VEX statements whose product is the
	// image; empty when it is not an image or unknown.
	Image []string
	// Build are the facts of a build, for the practices; nil outside one.
	Build *policy.BuildFacts
	// Database names the database in the report and in its staleness
	// warning: its folder, or the build context it came from.
	Database string
	// MaxDBAge is how old the database may be before the report warns; 0
	// never warns.
	MaxDBAge time.Duration
	// Now is when the verdict is made; zero is now.
	Now time.Time
	// ScannedAt is when the packages were matched, zero for Now: a cached
	// build step matched them earlier.
	ScannedAt   time.Time
	ToolVersion string
}

// Evaluate applies pol to what was matched, now, and makes the report.
func Evaluate(m *Matched, pol *policy.Policy, o Options) *report.Scan {
	now := o.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	scannedAt := o.ScannedAt
	if scannedAt.IsZero() {
		scannedAt = now
	}
	// Packages are read only by the license rules; an SBOM read without
	// them (a build's, when the policy has none) has none to give.
	in := policy.Input{Findings: m.Findings, Packages: m.SBOM.Packages, Build: o.Build, Image: o.Image, Incomplete: m.Incomplete, Now: now}
	return &report.Scan{
		Target:      o.Target,
		SBOM:        m.SBOM,
		Findings:    m.Findings,
		Verdict:     pol.Evaluate(in),
		Threshold:   pol.Threshold,
		Database:    report.Database{Dir: o.Database, Updated: m.Updated, Stale: Staleness(o.Database, m.Updated, o.MaxDBAge, now)},
		ScannedAt:   scannedAt.Truncate(time.Second),
		ToolVersion: o.ToolVersion,
	}
}

// Run catalogs target (as Catalog reads it), matches it against db and
// evaluates pol: the whole scan of a command. The findings of an image say
// which of its layers each came from (CatalogAttributed). target is the report's
// Target, and an image in a registry is named by its reference for VEX
// statements.
func Run(ctx context.Context, target string, db *vuln.DB, pol *policy.Policy, o Options) (*report.Scan, error) {
	doc, attribution, err := CatalogAttributed(ctx, target)
	if err != nil {
		return nil, err
	}
	m, err := Match(db, doc)
	if err != nil {
		return nil, err
	}
	Attribute(m.Findings, attribution)
	o.Target = target
	if ref, ok := strings.CutPrefix(target, registry.RegistryPrefix); ok {
		o.Image = policy.ImageIdentities(ref)
	}
	return Evaluate(m, pol, o), nil
}

// Staleness is the warning for a database older than maxAge, "" when it
// is not or maxAge is 0. database names it, when known.
func Staleness(database string, updated map[string]time.Time, maxAge time.Duration, now time.Time) string {
	if maxAge <= 0 {
		return ""
	}
	age := now.Sub(vuln.OldestUpdate(updated))
	if age <= maxAge {
		return ""
	}
	what := "the vulnerability database"
	if database != "" {
		what += " in " + database
	}
	return fmt.Sprintf("%s was last updated %s ago (more than %s): run 'docker secure db update'", what, roughly(age), maxAge)
}

// roughly rounds an age to the precision a reader needs of it: seconds
// under an hour (a 3-minute age must not read "0s" against a --max-db-age
// of 1m), minutes under a day, hours beyond.
func roughly(age time.Duration) time.Duration {
	switch {
	case age < time.Hour:
		return age.Round(time.Second)
	case age < 24*time.Hour:
		return age.Round(time.Minute)
	}
	return age.Round(time.Hour)
}

// PolicyError is a scan whose policy failed, with why.
type PolicyError struct {
	// Name says which of several scans failed (verify's platform); "" for
	// the one scan of a command.
	Name    string
	Verdict policy.Verdict
}

// Error names the threshold once, then each failing finding (highest
// severity first, the fixable ones first within it) and each failing rule.
func (e *PolicyError) Error() string {
	what := "policy failed"
	if e.Name != "" {
		what += " for " + report.Printable(e.Name)
	}
	var reasons []string
	for _, f := range vuln.Sorted(e.Verdict.Failing) {
		reasons = append(reasons, report.Printable(fmt.Sprintf("%s %s %s %s -> %s", f.Severity, f.ID, f.Package.Name, f.Package.Version, f.Fix())))
	}
	for _, r := range e.Verdict.RuleReasons() {
		reasons = append(reasons, report.Printable(r))
	}
	return fmt.Sprintf("%s (%s):\n  %s", what, e.Verdict.Threshold, strings.Join(reasons, "\n  "))
}
