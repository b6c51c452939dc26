// Package report writes what people and machines read after a scan: a table
// for a terminal, a JSON report with a schema of its own, SARIF for code
// scanning, markdown for a CI job summary, and the SBOM as CycloneDX with
// its vulnerabilities. It decides nothing: the findings and the verdict come
// made.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// Scan is one scan's result, everything a report shows.
type Scan struct {
	Target      string // what was scanned, as the user named it
	SBOM        *sbom.SBOM
	Findings    []vuln.Finding // every finding, shown whatever the threshold
	Verdict     policy.Verdict
	Threshold   policy.Threshold
	Database    Database
	ScannedAt   time.Time
	ToolVersion string
	// Dockerfile is the Dockerfile's path inside the build context, where
	// SARIF places the findings a Dockerfile line brought in; "" takes
	// the file as the origins name it.
	Dockerfile string
}

// Database is what a report says of the vulnerability data a scan used.
type Database struct {
	Dir string
	// Updated is when each ecosystem's data was last imported.
	Updated map[string]time.Time
	// Stale is set when the data is older than the allowed age; the warning text.
	Stale string
}

// Formats are the names Write accepts, the default first.
var Formats = []string{"table", "json", "sarif", "markdown", "cyclonedx-json"}

// Write writes s in the named format.
func Write(w io.Writer, format string, s *Scan) error {
	switch format {
	case "table":
		return WriteTable(w, s)
	case "json":
		return WriteJSON(w, s)
	case "sarif":
		return WriteSARIF(w, s)
	case "markdown":
		return WriteMarkdown(w, s)
	case "cyclonedx-json":
		return WriteCycloneDX(w, s)
	}
	return fmt.Errorf("report format %q: want one of %s", format, strings.Join(Formats, ", "))
}

const (
	toolName = "secure-build"
	toolURI  = "https://github.com/secure-build/secure-build"
)

// severities are the levels as every report lists them, highest first.
var severities = []vuln.Severity{vuln.Critical, vuln.High, vuln.Medium, vuln.Low, vuln.Unknown}

// counts is how many findings there are and how many of them are fixable.
type counts struct{ total, fixable int }

func (c *counts) add(f vuln.Finding) {
	c.total++
	if f.Fixable() {
		c.fixable++
	}
}

// tally counts findings by severity; all is every level together.
type tally struct {
	bySeverity map[vuln.Severity]counts
	all        counts
}

func count(findings []vuln.Finding) tally {
	t := tally{bySeverity: make(map[vuln.Severity]counts, len(severities))}
	for _, f := range findings {
		c := t.bySeverity[f.Severity]
		c.add(f)
		t.bySeverity[f.Severity] = c
		t.all.add(f)
	}
	return t
}

// failingIDs are the ids of the findings that failed the verdict, each once,
// in report order.
func failingIDs(v policy.Verdict) []string {
	ids := []string{}
	for _, f := range vuln.Sorted(v.Failing) {
		if !slices.Contains(ids, f.ID) {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// joinCapped joins the first limit items and says how many more there are,
// so that one line stays one line.
func joinCapped(items []string, limit int) string {
	if len(items) <= limit {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:limit], ", "), len(items)-limit)
}

// oneLine folds every run of white space, newlines included, into one
// space: advisory summaries sometimes span lines, and a table row cannot.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// osvURL is the page of a vulnerability id on osv.dev, which knows the ids
// of every source (CVE, GHSA, DSA, GO, ...).
func osvURL(id string) string {
	return "https://osv.dev/vulnerability/" + id
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// errWriter keeps the first write error, so that a run of Fprintf calls
// needs one check at the end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
