package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

// summaryWidth keeps a table row within a wide terminal.
const summaryWidth = 60

// reasonWidth keeps a suppression's reason from pushing the summaries off
// the screen; the JSON report has it whole.
const reasonWidth = 40

// WriteTable writes the scan for a person: counts by severity first, then
// every finding, grouped by the file its package was found in, the fixable
// ones first, each with its status (the fix, no fix, or why it is
// suppressed); the verdict last, where the eye lands when the command ends.
func WriteTable(w io.Writer, s *Scan) error {
	if err := writeTable(w, s, true); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteTableSummary writes the short form of WriteTable: the counts and the
// verdict, without the findings one by one.
func WriteTableSummary(w io.Writer, s *Scan) error {
	if err := writeTable(w, s, false); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func writeTable(w io.Writer, s *Scan, listFindings bool) error {
	ew := &errWriter{w: w}
	target := s.Target
	if s.SBOM != nil && s.SBOM.Distro != nil {
		d := s.SBOM.Distro
		target += " (" + cmp.Or(d.PrettyName, d.PURLQualifier()) + ")"
	}
	fmt.Fprintf(ew, "Target: %s\n", Printable(target))
	if s.Database.Stale != "" {
		fmt.Fprintf(ew, "Warning: %s\n", Printable(s.Database.Stale))
	}
	fmt.Fprintln(ew)
	if err := writeCounts(ew, s); err != nil {
		return err
	}
	if listFindings {
		if err := writeFindings(ew, s); err != nil {
			return err
		}
	}
	writePolicyDetail(ew, s)
	fmt.Fprintln(ew)
	if line := OriginLine(s.Findings); line != "" {
		fmt.Fprintf(ew, "%s\n", Printable(line))
	}
	fmt.Fprintf(ew, "%s\n", VerdictLine(s))
	return ew.err
}

// writeCounts writes the findings by severity; a column of the suppressed
// ones when the policy set some aside, so that a PASS next to a fixable
// critical says why.
func writeCounts(w io.Writer, s *Scan) error {
	t := count(s.Findings)
	suppressed := countSuppressed(s.Verdict.Suppressed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "SEVERITY\tFINDINGS\tFIXABLE"
	if len(s.Verdict.Suppressed) > 0 {
		header += "\tSUPPRESSED"
	}
	fmt.Fprintln(tw, header)
	row := func(name string, c counts, n int) {
		fmt.Fprintf(tw, "%s\t%d\t%d", name, c.total, c.fixable)
		if len(s.Verdict.Suppressed) > 0 {
			fmt.Fprintf(tw, "\t%d", n)
		}
		fmt.Fprintln(tw)
	}
	for _, sev := range severities {
		row(sev.String(), t.bySeverity[sev], suppressed[sev])
	}
	row("total", t.all, len(s.Verdict.Suppressed))
	return tw.Flush()
}

// writeFindings lists every finding under the file its package was found
// in (a package database, a lockfile, a binary), as Trivy groups them by
// target; the group with the most pressing finding first.
func writeFindings(w io.Writer, s *Scan) error {
	findings := Ordered(s)
	if len(findings) == 0 {
		return nil
	}
	var groups [][]vuln.Finding
	index := map[string]int{}
	for _, f := range findings {
		key := findingTarget(f)
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], f)
	}
	// An ORIGIN column only when something attributed the findings: a
	// directory scan has none, and an empty column says nothing.
	origins := HasOrigins(findings)
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s\n", Printable(findingTarget(g[0])))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		header := "ID\tPACKAGE\tINSTALLED\tSEVERITY\tSTATUS\t"
		if origins {
			header += "ORIGIN\t"
		}
		fmt.Fprintln(tw, header+"SUMMARY")
		for _, f := range g {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t", Printable(f.ID), Printable(f.Package.Name), Printable(f.Package.Version),
				f.Severity, Printable(statusCell(s.Verdict, f)))
			if origins {
				fmt.Fprintf(tw, "%s\t", Printable(OriginCell(f)))
			}
			fmt.Fprintf(tw, "%s\n", Printable(truncate(oneLine(f.Summary), summaryWidth)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// findingTarget is where a finding's package was found, with what it was
// matched as: "/var/lib/dpkg/status (Debian:12)".
func findingTarget(f vuln.Finding) string {
	where := "(no location)"
	if len(f.Package.Locations) > 0 {
		where = f.Package.Locations[0]
	}
	if f.Package.Ecosystem == "" {
		return where
	}
	return where + " (" + f.Package.Ecosystem + ")"
}

// Ordered is the order every list of a scan's findings shows them in: the
// ones a person can act on first (fixable), then those with no fix yet,
// then those the policy suppressed; each part in vuln's order, highest
// severity first.
func Ordered(s *Scan) []vuln.Finding {
	rank := func(f vuln.Finding) int {
		switch {
		case suppression(s.Verdict, f) != nil:
			return 2
		case f.Fixable():
			return 0
		}
		return 1
	}
	out := slices.Clone(s.Findings)
	slices.SortStableFunc(out, func(a, b vuln.Finding) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), vuln.Compare(a, b))
	})
	return out
}

// Status is a finding's state in a word or a few: "fixed in 1.2.6", "no
// fix yet", or "suppressed: " and why (the ignore entry's reason, else its
// VEX status) with where that was said.
func Status(v policy.Verdict, f vuln.Finding) string {
	if x := suppression(v, f); x != nil {
		return fmt.Sprintf("suppressed: %s (%s)", cmp.Or(x.Reason, x.Status), x.Source)
	}
	if f.Fixable() {
		return "fixed in " + f.FixedVersion
	}
	return vuln.NoFix
}

// statusCell is Status for a table cell: one line, the reason shortened.
func statusCell(v policy.Verdict, f vuln.Finding) string {
	if x := suppression(v, f); x != nil {
		return fmt.Sprintf("suppressed: %s (%s)", truncate(oneLine(cmp.Or(x.Reason, x.Status)), reasonWidth), x.Source)
	}
	return Status(v, f)
}

func suppression(v policy.Verdict, f vuln.Finding) *policy.Suppressed {
	for i, x := range v.Suppressed {
		if f.Same(x.Finding) {
			return &v.Suppressed[i]
		}
	}
	return nil
}

func countSuppressed(suppressed []policy.Suppressed) map[vuln.Severity]int {
	n := map[vuln.Severity]int{}
	for _, x := range suppressed {
		n[x.Finding.Severity]++
	}
	return n
}

// writePolicyDetail lists the rules the policy found broken and what it
// could not read, each with why: the rest of the verdict, before its line.
func writePolicyDetail(w io.Writer, s *Scan) {
	v := s.Verdict
	if len(v.Violations) > 0 {
		fmt.Fprintf(w, "\nPolicy rules (%d):\n", len(v.Violations))
		for _, x := range v.Violations {
			fmt.Fprintf(w, "  %s: %s\n", strings.ToUpper(string(x.Action)), Printable(x.String()))
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", Printable(n))
	}
	if len(v.Incomplete) > 0 {
		fmt.Fprintf(w, "\nINCOMPLETE: not read completely (%d):\n", len(v.Incomplete))
		for _, gap := range v.Incomplete {
			fmt.Fprintf(w, "  %s\n", Printable(gap.String()))
		}
	}
}

// VerdictLine is the verdict in one line: PASS, FAIL or INCOMPLETE, the
// threshold, and what failed it.
func VerdictLine(s *Scan) string {
	if s.Verdict.Pass {
		return fmt.Sprintf("%s (%s)", s.Verdict.Status(), s.Verdict.Threshold)
	}
	what := failingIDs(s.Verdict)
	for _, x := range s.Verdict.Violations {
		if x.Action == policy.Fail {
			what = append(what, x.Rule)
		}
	}
	return fmt.Sprintf("%s (%s): %s", s.Verdict.Status(), s.Verdict.Threshold, Printable(joinCapped(slices.Compact(what), 10)))
}
