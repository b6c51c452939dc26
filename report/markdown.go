package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/secure-build/secure-build/vuln"
)

// markdownRows caps the findings table: a job summary is read, not searched,
// and GitHub refuses one over 1 MiB.
const markdownRows = 50

// WriteMarkdown writes a short summary fit for a CI job summary
// ($GITHUB_STEP_SUMMARY): the verdict as a heading, the counts by severity,
// and the fixable findings.
func WriteMarkdown(w io.Writer, s *Scan) error {
	ew := &errWriter{w: w}
	verdict := "✅ " + s.Verdict.Status()
	if !s.Verdict.Pass {
		verdict = "❌ " + s.Verdict.Status()
	}
	fmt.Fprintf(ew, "## secure-build scan: %s\n\n", verdict)
	fmt.Fprintf(ew, "Target: %s  \n", mdEscape(s.Target))
	fmt.Fprintf(ew, "Policy: %s\n", mdEscape(s.Verdict.Threshold))
	if line := OriginLine(s.Findings); line != "" {
		fmt.Fprintf(ew, "\nOrigin: %s\n", mdEscape(line))
	}
	if !s.Verdict.Pass {
		fmt.Fprintf(ew, "\nFailing: %s\n", mdEscape(joinCapped(failingIDs(s.Verdict), 20)))
	}
	for _, x := range s.Verdict.Violations {
		fmt.Fprintf(ew, "\n- **%s** %s\n", x.Action, mdEscape(x.String()))
	}
	for _, x := range s.Verdict.Suppressed {
		fmt.Fprintf(ew, "\n- suppressed %s in %s %s by %s (%s): %s\n", mdEscape(x.Finding.ID), mdEscape(x.Finding.Package.Name), mdEscape(x.Finding.Package.Version), x.By, mdEscape(x.Source), mdEscape(oneLine(x.Reason)))
	}
	if len(s.Verdict.Incomplete) > 0 {
		fmt.Fprintf(ew, "\n> [!CAUTION]\n> The scan is incomplete: what decides findings could not be read completely in %d places.\n", len(s.Verdict.Incomplete))
		for _, gap := range s.Verdict.Incomplete {
			fmt.Fprintf(ew, "> - %s\n", mdEscape(gap.String()))
		}
	}
	if s.Database.Stale != "" {
		fmt.Fprintf(ew, "\n> [!WARNING]\n> %s\n", mdEscape(s.Database.Stale))
	}

	t := count(s.Findings)
	fmt.Fprint(ew, "\n| Severity | Findings | Fixable |\n| --- | ---: | ---: |\n")
	for _, sev := range severities {
		c := t.bySeverity[sev]
		fmt.Fprintf(ew, "| %s | %d | %d |\n", sev, c.total, c.fixable)
	}
	fmt.Fprintf(ew, "| **total** | **%d** | **%d** |\n", t.all.total, t.all.fixable)

	if t.all.fixable > 0 {
		origins := HasOrigins(s.Findings)
		if origins {
			fmt.Fprint(ew, "\n### Fixable findings\n\n| ID | Package | Installed | Fixed | Severity | Origin | Summary |\n| --- | --- | --- | --- | --- | --- | --- |\n")
		} else {
			fmt.Fprint(ew, "\n### Fixable findings\n\n| ID | Package | Installed | Fixed | Severity | Summary |\n| --- | --- | --- | --- | --- | --- |\n")
		}
		rows := 0
		for _, f := range vuln.Sorted(s.Findings) {
			if !f.Fixable() {
				continue
			}
			if rows == markdownRows {
				break
			}
			rows++
			fmt.Fprintf(ew, "| %s | %s | %s | %s | %s | ", mdEscape(f.ID), mdEscape(f.Package.Name),
				mdEscape(f.Package.Version), mdEscape(f.FixedVersion), f.Severity)
			if origins {
				fmt.Fprintf(ew, "%s | ", mdEscape(OriginCell(f)))
			}
			fmt.Fprintf(ew, "%s |\n", mdEscape(truncate(oneLine(f.Summary), 100)))
		}
		if t.all.fixable > rows {
			fmt.Fprintf(ew, "\n_Showing %d of %d fixable findings; the JSON report lists every finding._\n", rows, t.all.fixable)
		}
	}
	if n := t.all.total - t.all.fixable; n > 0 {
		fmt.Fprintf(ew, "\n%d %s %s.\n", n, plural(n, "finding has", "findings have"), vuln.NoFix)
	}
	if ew.err != nil {
		return fmt.Errorf("write markdown: %w", ew.err)
	}
	return nil
}

// mdEscaper keeps text from advisories as text: a '|' would end a table
// cell, and GitHub would render '<' as HTML, '*' or '_' as emphasis, '~'
// (in Debian versions) as strikethrough.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "~", `\~`,
)

func mdEscape(s string) string {
	return mdEscaper.Replace(Printable(oneLine(s)))
}
