package plugin

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/google/osv-scalibr/inventory/osvecosystem"
	"github.com/package-url/packageurl-go"
	"github.com/secure-build/secure-build/scan"
	"github.com/secure-build/secure-build/vuln"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tonistiigi/units"
)

// dbFlags are the flags of every command that reads the database.
type dbFlags struct {
	dir    string
	maxAge time.Duration
}

func (d *dbFlags) bind(flags *pflag.FlagSet) {
	flags.StringVar(&d.dir, "db", "", "Vulnerability database folder (default $SECURE_BUILD_DB, else the user cache folder)")
	flags.DurationVar(&d.maxAge, "max-db-age", vuln.DefaultMaxAge, "Warn when the database is older than this")
}

func (d *dbFlags) resolve() (string, error) {
	if d.dir != "" {
		return d.dir, nil
	}
	return vuln.DefaultDir()
}

// open opens the database the flags name, for matching.
func (d *dbFlags) open() (*vuln.DB, error) {
	dir, err := d.resolve()
	if err != nil {
		return nil, err
	}
	return vuln.Open(dir)
}

// statuses reads the state of the database's archives without opening it
// (vuln.Statuses).
func (d *dbFlags) statuses() ([]vuln.ArchiveStatus, error) {
	dir, err := d.resolve()
	if err != nil {
		return nil, err
	}
	return vuln.Statuses(dir)
}

func newDBCmd(dockerCli command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the offline OSV vulnerability database",
		Long: `Manage the offline vulnerability database scans read. It holds OSV records
(https://ossf.github.io/osv-schema/), one archive per ecosystem, indexed for
lookups by package; a scan never needs the internet.

The database lives in $SECURE_BUILD_DB, else the user's cache folder
($XDG_CACHE_HOME/secure-build/db on Linux); --db names another.`,
		Example: `  # Download the OSV archives and index them
  docker secure db update

  # Import archives fetched elsewhere, offline
  docker secure db import Debian-all.zip Go-all.zip

  # Where the database is and how old
  docker secure db status`,
	}
	cmd.AddCommand(newDBUpdateCmd(dockerCli), newDBImportCmd(dockerCli), newDBStatusCmd(dockerCli), newDBPushCmd(dockerCli))
	return cmd
}

func newDBUpdateCmd(dockerCli command.Cli) *cobra.Command {
	var db dbFlags
	var ecosystems []string
	var baseURL string
	cmd := &cobra.Command{
		Use:   "update [OPTIONS]",
		Short: "Download the OSV archives and import the ones that changed",
		Long: `Download <base-url>/<Ecosystem>/all.zip for each ecosystem and import it.
Requests are conditional: an archive unchanged since the last update is not
downloaded again. Each download replaces its own ecosystem's file and nothing
else; a record in it that also names another ecosystem is found for that one
too. A failed download or a corrupt archive leaves the database as it was; a
damaged file is downloaded again whole. In a terminal each download shows
its progress and rate; elsewhere (a CI log) only the results are printed.`,
		Example: `  docker secure db update
  docker secure db update --ecosystem Debian --ecosystem Go
  docker secure db update --base-url https://mirror.example.com/osv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, eco := range ecosystems {
				if err := checkEcosystem(eco); err != nil {
					return err
				}
			}
			dir, err := db.resolve()
			if err != nil {
				return err
			}
			var progress func(vuln.DownloadProgress)
			if dockerCli.Err().IsTerminal() {
				progress = (&downloadLine{w: dockerCli.Err()}).draw
			}
			results, err := vuln.Update(cmd.Context(), dir, baseURL, ecosystems, &http.Client{Timeout: 30 * time.Minute}, progress)
			if err != nil {
				return err
			}
			for _, r := range results {
				if r.Unchanged {
					fmt.Fprintf(dockerCli.Out(), "%s: unchanged since %s\n", r.Archive, r.Status.Updated.Format(time.RFC3339))
					continue
				}
				fmt.Fprintf(dockerCli.Out(), "%s: %d records, %d packages\n", r.Archive, r.Status.Records, r.Status.Packages)
			}
			fmt.Fprintf(dockerCli.Out(), "database: %s\n", dir)
			return nil
		},
	}
	db.bind(cmd.Flags())
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystem", nil, "OSV ecosystem to update (repeatable; default: "+strings.Join(vuln.DefaultEcosystems, ", ")+")")
	cmd.Flags().StringVar(&baseURL, "base-url", vuln.DefaultBaseURL, "Where the archives are: <base-url>/<Ecosystem>/all.zip")
	return cmd
}

// downloadLine draws a download's progress on one terminal line, redrawn
// in place at most ten times a second, with BuildKit's display's units:
// "Debian  41.20MB / 96.50MB  8.12MB/s".
type downloadLine struct {
	w     io.Writer
	drawn time.Time
}

func (d *downloadLine) draw(p vuln.DownloadProgress) {
	now := time.Now()
	if !p.Done && now.Sub(d.drawn) < 100*time.Millisecond {
		return
	}
	d.drawn = now
	line := fmt.Sprintf("%s  %.2f", p.Archive, units.Bytes(p.Received))
	if p.Size >= 0 {
		line += fmt.Sprintf(" / %.2f", units.Bytes(p.Size))
	}
	if elapsed := now.Sub(p.Started).Seconds(); elapsed > 0 && p.Received > 0 {
		line += fmt.Sprintf("  %.2f/s", units.Bytes(float64(p.Received)/elapsed))
	}
	// Back to the line's start and erase it, then draw; a finished
	// download keeps its line.
	fmt.Fprintf(d.w, "\r\x1b[K%s", line)
	if p.Done {
		fmt.Fprintln(d.w)
	}
}

func newDBImportCmd(dockerCli command.Cli) *cobra.Command {
	var db dbFlags
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] PATH...",
		Short: "Import OSV zips or folders of OSV JSON files, offline",
		Long: `Import OSV data without the network: zips as OSV publishes them
(<Ecosystem>/all.zip), or folders of OSV JSON records. Each ecosystem the
paths hold records of (records naming that ecosystem alone) is replaced; a
record that also names another ecosystem is found for it too, without
replacing that ecosystem's data. Either every path imports or none does; the
error names the file and the record.`,
		Example: `  docker secure db import Debian-all.zip
  docker secure db import ./osv-records/`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := db.resolve()
			if err != nil {
				return err
			}
			sources := make([]vuln.Source, 0, len(args))
			for _, a := range args {
				sources = append(sources, vuln.Source{Path: a})
			}
			statuses, err := vuln.Import(cmd.Context(), dir, sources)
			if err != nil {
				return err
			}
			for _, s := range statuses {
				fmt.Fprintf(dockerCli.Out(), "%s: %d records, %d packages\n", s.Archive, s.Records, s.Packages)
			}
			fmt.Fprintf(dockerCli.Out(), "database: %s\n", dir)
			return nil
		},
	}
	db.bind(cmd.Flags())
	return cmd
}

func newDBStatusCmd(dockerCli command.Cli) *cobra.Command {
	var db dbFlags
	cmd := &cobra.Command{
		Use:   "status [OPTIONS]",
		Short: "Show where the database is, what it holds and how old it is",
		Example: `  docker secure db status
  docker secure db status --max-db-age 24h`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := db.resolve()
			if err != nil {
				return err
			}
			d, err := vuln.Open(dir)
			if err != nil {
				return err
			}
			defer d.Close()
			now := time.Now()
			out := dockerCli.Out()
			fmt.Fprintf(out, "Database: %s\n\n", dir)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ECOSYSTEM\tUPDATED\tAGE\tRECORDS\tPACKAGES\tSOURCE")
			for _, s := range d.Status() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", s.Archive, s.Updated.Format(time.RFC3339), now.Sub(s.Updated).Round(time.Minute), s.Records, s.Packages, s.Source)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if w := scan.Staleness(d.Dir(), d.Updated(), db.maxAge, now); w != "" {
				fmt.Fprintf(dockerCli.Err(), "warning: %s\n", w)
			}
			return nil
		},
	}
	db.bind(cmd.Flags())
	return cmd
}

// checkEcosystem refuses a name OSV has no archive for before anything is
// downloaded, suggesting the OSV name of a purl type or a name in another
// case ("golang" is "Go").
func checkEcosystem(name string) error {
	if _, err := osvecosystem.Parse(name); err == nil && name != "" {
		return nil
	}
	hint := ""
	if osv, ok := purlTypeEcosystems[strings.ToLower(name)]; ok {
		hint = fmt.Sprintf("; did you mean %q?", osv)
	} else if i := slices.IndexFunc(vuln.DefaultEcosystems, func(e string) bool { return strings.EqualFold(e, name) }); i >= 0 {
		hint = fmt.Sprintf("; did you mean %q?", vuln.DefaultEcosystems[i])
	}
	return fmt.Errorf("--ecosystem %q: not an OSV ecosystem%s (name them as OSV does: %s, ...)",
		name, hint, strings.Join(vuln.DefaultEcosystems, ", "))
}

// purlTypeEcosystems are the OSV names of the purl types whose name differs
// from their ecosystem's, as the packages' purls say them.
var purlTypeEcosystems = map[string]string{
	packageurl.TypeGolang:   "Go",
	packageurl.TypeCargo:    "crates.io",
	packageurl.TypeGem:      "RubyGems",
	packageurl.TypeComposer: "Packagist",
	packageurl.TypeDebian:   "Debian",
	packageurl.TypeApk:      "Alpine",
}
