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

// WriteTable writes the scan for a person: counts by severity first, then
// the fixable findings, highest severity first, each with the version that
// fixes it; then how many have no fix, and the verdict last, where the eye
// lands when the command ends.
func WriteTable(w io.Writer, s *Scan) error {
	if err := writeTable(w, s); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func writeTable(w io.Writer, s *Scan) error {
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

	t := count(s.Findings)
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tFINDINGS\tFIXABLE")
	for _, sev := range severities {
		c := t.bySeverity[sev]
		fmt.Fprintf(tw, "%s\t%d\t%d\n", sev, c.total, c.fixable)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\n", t.all.total, t.all.fixable)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(ew)

	if t.all.fixable == 0 {
		fmt.Fprintln(ew, "No fixable findings.")
	} else {
		fmt.Fprintln(ew, "Fixable findings:")
		tw = tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPACKAGE\tINSTALLED -> FIXED\tSEVERITY\tSUMMARY")
		for _, f := range vuln.Sorted(s.Findings) {
			if !f.Fixable() {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s -> %s\t%s\t%s\n", Printable(f.ID), Printable(f.Package.Name), Printable(f.Package.Version),
				Printable(f.FixedVersion), f.Severity, Printable(truncate(oneLine(f.Summary), summaryWidth)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	// Unfixable findings are counted, not listed: a person can act only on
	// the fixable ones, and a base image often has hundreds of the others.
	if n := t.all.total - t.all.fixable; n > 0 {
		var parts []string
		for _, sev := range severities {
			if c := t.bySeverity[sev]; c.total > c.fixable {
				parts = append(parts, fmt.Sprintf("%d %s", c.total-c.fixable, sev))
			}
		}
		fmt.Fprintf(ew, "\n%d %s %s (%s); the JSON report lists every finding.\n",
			n, plural(n, "finding has", "findings have"), vuln.NoFix, strings.Join(parts, ", "))
	}

	writePolicyDetail(ew, s)
	fmt.Fprintf(ew, "\n%s\n", VerdictLine(s))
	return ew.err
}

// writePolicyDetail lists what the policy set aside and the rules it found
// broken, each with why.
func writePolicyDetail(w io.Writer, s *Scan) {
	v := s.Verdict
	if len(v.Suppressed) > 0 {
		fmt.Fprintf(w, "\nSuppressed (%d):\n", len(v.Suppressed))
		for _, x := range v.Suppressed {
			fmt.Fprintf(w, "  %s %s %s: %s %s (%s)\n", Printable(x.Finding.ID), Printable(x.Finding.Package.Name),
				Printable(x.Finding.Package.Version), x.By, Printable(x.Status), Printable(x.Source))
			if x.Reason != "" {
				fmt.Fprintf(w, "    %s\n", Printable(oneLine(x.Reason)))
			}
		}
	}
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
