package sbom

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the catalog for a person: the distribution, then one
// line a package. Warnings are the caller's to print, on stderr.
func (s *SBOM) WriteTable(w io.Writer) error {
	if s.Distro != nil {
		fmt.Fprintf(w, "Distribution: %s\n", firstNonEmpty(s.Distro.PrettyName, s.Distro.PURLQualifier()))
	}
	fmt.Fprintf(w, "Packages: %d\n\n", len(s.Packages))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tTYPE\tSOURCE\tLOCATION")
	for _, p := range s.Packages {
		source := ""
		if p.SourceName != "" && (p.SourceName != p.Name || p.SourceVersion != p.Version) {
			source = p.SourceName + " " + p.SourceVersion
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Type, source, strings.Join(p.Locations, ", "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
