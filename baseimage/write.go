package baseimage

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats are the names Write accepts, the default first.
var Formats = []string{"table", "json", "markdown"}

// Write writes the advice in the named format.
func Write(w io.Writer, format string, a *Advice) error {
	switch format {
	case "table":
		return writeTable(w, a)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	case "markdown":
		return writeMarkdown(w, a)
	}
	return fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// rows are the options in the order every format lists them: the refresh,
// the updates, the alternatives.
func (a *Advice) rows() []Option {
	var out []Option
	if a.Refresh != nil {
		out = append(out, *a.Refresh)
	}
	out = append(out, a.Updates...)
	return append(out, a.Alternatives...)
}

func tagCell(o Option) string {
	if len(o.Aliases) == 0 {
		return o.Tag
	}
	return o.Tag + " (" + strings.Join(o.Aliases, ", ") + ")"
}

func fixedCell(c Counts) string {
	return fmt.Sprintf("%d/%d/%d", c.Critical, c.High, c.All)
}

// sizeDelta is a size change in the unit a reader compares images by.
func sizeDelta(d int64) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	switch {
	case d >= 1<<20:
		return fmt.Sprintf("%s%.1f MB", sign, float64(d)/(1<<20))
	case d >= 1<<10:
		return fmt.Sprintf("%s%.1f kB", sign, float64(d)/(1<<10))
	}
	return fmt.Sprintf("%s%d B", sign, d)
}

func (a *Advice) heading() string {
	s := fmt.Sprintf("base %s:%s (%s, %s)", a.Repository, a.Tag, a.Platform, shortDigest(a.Base.Digest))
	if !a.Base.Created.IsZero() {
		s += ", built " + a.Base.Created.UTC().Format(time.DateOnly)
	}
	c := a.BaseFindings
	return s + fmt.Sprintf(": %d findings (%d critical, %d high, %d gating)", c.All, c.Critical, c.High, c.Gating)
}

func writeTable(w io.Writer, a *Advice) error {
	fmt.Fprintln(w, a.heading())
	rows := a.rows()
	if len(rows) == 0 {
		fmt.Fprintln(w, "no refresh, update or alternative found")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BUCKET\tTAG\tDIGEST\tFIXED C/H/ALL\tREMAINING\tSIZE Δ\tNOTE")
		for _, o := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", o.Bucket, tagCell(o), shortDigest(o.Digest), fixedCell(o.Fixed), o.Remaining.All, sizeDelta(o.SizeDelta), note(o))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if line := Line(a); line != "" {
		fmt.Fprintln(w, line)
	}
	for _, n := range a.Notes {
		fmt.Fprintln(w, "note: "+n)
	}
	_, err := fmt.Fprintf(w, "scans: %d run, %d from the cache\n", a.Scans.Scanned, a.Scans.Cached)
	return err
}

// note is what a row needs said besides its numbers.
func note(o Option) string {
	var notes []string
	if o.Bucket == Refreshed && !o.Created.IsZero() {
		notes = append(notes, "pushed "+o.Created.UTC().Format(time.DateOnly))
	}
	if o.FamilyChange != "" {
		notes = append(notes, "distro changes: "+o.FamilyChange)
	}
	if o.Introduced.All > 0 {
		notes = append(notes, fmt.Sprintf("%d new", o.Introduced.All))
	}
	if len(o.Incomplete) > 0 {
		notes = append(notes, "scan incomplete")
	}
	return strings.Join(notes, "; ")
}

func writeMarkdown(w io.Writer, a *Advice) error {
	fmt.Fprintf(w, "### Base image advice\n\n%s\n\n", a.heading())
	if rows := a.rows(); len(rows) > 0 {
		fmt.Fprintln(w, "| bucket | tag | digest | fixed critical | fixed high | fixed all | remaining | size Δ | note |")
		fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
		for _, o := range rows {
			fmt.Fprintf(w, "| %s | `%s` | `%s` | %d | %d | %d | %d | %s | %s |\n", o.Bucket, mdEscape(tagCell(o)), shortDigest(o.Digest),
				o.Fixed.Critical, o.Fixed.High, o.Fixed.All, o.Remaining.All, sizeDelta(o.SizeDelta), mdEscape(note(o)))
		}
		fmt.Fprintln(w)
	}
	if line := Line(a); line != "" {
		fmt.Fprintf(w, "**%s**\n\n", mdEscape(line))
	}
	for _, n := range a.Notes {
		fmt.Fprintf(w, "- %s\n", mdEscape(n))
	}
	return nil
}

// mdEscape keeps a cell's text from breaking the table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

// Line is the advice in one line, as a build's verdict shows it: "base
// debian:12.4-slim: refresh available, fixes 3 high; update 12.8-slim
// (minor) fixes 5 high". Empty when there is nothing to advise.
func Line(a *Advice) string {
	var parts []string
	if o := a.Refresh; o != nil {
		parts = append(parts, "refresh available"+fixesText(o.Fixed, ", fixes "))
	}
	if o := a.Best(); o != nil {
		parts = append(parts, fmt.Sprintf("update %s (%s)%s", o.Tag, o.Bucket, fixesText(o.Fixed, " fixes ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("base %s:%s: %s", familiar(a.Repository), a.Tag, strings.Join(parts, "; "))
}

// fixesText says the most severe of what is fixed: "3 critical, 2 high",
// else the count of all; "" when nothing is.
func fixesText(c Counts, lead string) string {
	var parts []string
	if c.Critical > 0 {
		parts = append(parts, fmt.Sprintf("%d critical", c.Critical))
	}
	if c.High > 0 {
		parts = append(parts, fmt.Sprintf("%d high", c.High))
	}
	if len(parts) == 0 {
		if c.All == 0 {
			return ""
		}
		parts = append(parts, fmt.Sprintf("%d %s", c.All, plural(c.All, "finding", "findings")))
	}
	return lead + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// familiar is a repository as people write it: "debian", not
// "index.docker.io/library/debian".
func familiar(repo string) string {
	if r, ok := strings.CutPrefix(repo, "index.docker.io/"); ok {
		return strings.TrimPrefix(r, "library/")
	}
	return repo
}
