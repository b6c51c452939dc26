package plugin

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/scan"
	"github.com/spf13/cobra"
)

type scanOptions struct {
	db      dbFlags
	policy  policyFlags
	format  string
	output  string
	summary bool
}

func newScanCmd(dockerCli command.Cli) *cobra.Command {
	var opts scanOptions
	cmd := &cobra.Command{
		Use:   "scan [OPTIONS] TARGET",
		Short: "Find the vulnerabilities of a root filesystem or an image, offline",
		Long: `Catalog TARGET (as for "sbom": DIR, an image tar FILE known by its
content, oci-layout:PATH[:TAG|@DIGEST], docker-archive:FILE, registry:REF,
or sbom:FILE for an SPDX document's packages), match its
packages against the offline OSV database and
apply the policy. Distro packages match by their source package, with the
distro's own version order, so backported fixes are not reported.

The policy, the same everywhere: fail on a fixable critical finding, or what
the --policy file says (its vulnerability and license rules; the base-image
and Dockerfile practices apply to builds). --fail-on and --include-unfixable
override it; --include-unfixable changes what fails the scan (findings with
no fixed version too), never what is shown.
Severity "unknown" fails only with --fail-on unknown. Findings that the
policy's ignore entries or VEX documents suppress are listed with the reason.

An INCOMPLETE scan fails: one where a package database, a lockfile, an
archive or a package's version that decides findings could not be read
completely (each is listed with why). The policy rule scan.incomplete or
--incomplete warn|off relax it, at the risk of letting the vulnerable
packages of what was not read pass unseen.

The findings of an image say which layer brought their package (its index,
diff ID and history created_by; a package a later layer upgraded is that
layer's), and which Dockerfile lines made it when the image carries BuildKit
provenance with mode=max. Layers of the base image are "base": as far as the
image's base annotations or its provenance say, else a probable base guessed
from the history.

Exit status: 0 the policy passed; 3 it failed, or the status --exit-code
sets (0 only reports the failure); 2 a usage or input error (a bad flag, a
missing target, no database).`,
		Example: `  # Table of every finding of a root filesystem, by the file each package was found in
  docker secure scan ./rootfs

  # Only the counts by severity and the verdict
  docker secure scan --summary ./rootfs

  # Fail on high or critical findings, fixable or not; SARIF for code scanning
  docker secure scan --fail-on high --include-unfixable --format sarif -o scan.sarif docker-archive:app.tar

  # Fail only on findings the image's layers added over its base image
  docker secure scan --scope added registry:registry.example.com/app:1

  # Exit 1 when the policy fails, as a pipeline written for Trivy expects
  docker secure scan --exit-code 1 oci-layout:./layout

  # Match an SBOM again, with today's database and the team's policy file
  docker secure scan --policy secure-build.yaml sbom:app.spdx.json

  # The OCI tar a build wrote with -o type=oci,dest=app.tar
  docker secure scan app.tar

  # Which layer and Dockerfile line brought each finding of an image built with provenance
  buildctl build ... --opt attest:provenance=mode=max --output type=oci,tar=false,dest=./layout
  docker secure scan --format json oci-layout:./layout

  # A markdown summary for a CI job
  docker secure scan --format markdown oci-layout:./layout >> "$GITHUB_STEP_SUMMARY"`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, dockerCli, opts, args[0])
		},
	}
	flags := cmd.Flags()
	opts.db.bind(flags)
	flags.StringVar(&opts.format, "format", "table", "Output format: "+strings.Join(report.Formats, ", "))
	flags.StringVarP(&opts.output, "output", "o", "", "Write the report to FILE instead of standard output")
	flags.BoolVar(&opts.summary, "summary", false, "Table format: only the counts by severity and the verdict, not every finding")
	opts.policy.bind(flags)
	return cmd
}

func runScan(cmd *cobra.Command, dockerCli command.Cli, opts scanOptions, target string) error {
	if !slices.Contains(report.Formats, opts.format) {
		return fmt.Errorf("--format %q: want one of %s", opts.format, strings.Join(report.Formats, ", "))
	}
	if opts.summary && opts.format != "table" {
		return fmt.Errorf("--summary is a form of the table: it cannot be used with --format %s", opts.format)
	}
	pol, err := opts.policy.resolve(cmd.Context())
	if err != nil {
		return err
	}
	db, err := opts.db.open()
	if err != nil {
		return err
	}
	defer db.Close()

	rep, err := scan.Run(cmd.Context(), target, db, pol, scan.Options{Database: db.Dir(), MaxDBAge: opts.db.maxAge, ToolVersion: Version})
	if err != nil {
		return err
	}
	stderr := dockerCli.Err()
	if opts.format != "table" { // the table lists them with the verdict
		for _, gap := range rep.Verdict.Incomplete {
			fmt.Fprintf(stderr, "incomplete: not read: %s\n", report.Printable(gap.String()))
		}
	}
	if rep.Database.Stale != "" {
		fmt.Fprintf(stderr, "warning: %s\n", rep.Database.Stale)
	}
	write := func(w io.Writer) error { return report.Write(w, opts.format, rep) }
	if opts.summary {
		write = func(w io.Writer) error { return report.WriteTableSummary(w, rep) }
	}
	if err := writeOutput(dockerCli.Out(), opts.output, write); err != nil {
		return err
	}
	if !rep.Verdict.Pass {
		err := policyFailed(stderr, &scan.PolicyError{Verdict: rep.Verdict}, opts.policy.exitCode)
		if failed, ok := err.(cli.StatusError); ok && opts.format == "table" && (opts.output == "" || opts.output == "-") {
			// The table just printed ends with the verdict: say it once.
			failed.Status = "policy failed: see the verdict above"
			return failed
		}
		return err
	}
	return nil
}

// printable escapes each of lines for a terminal (report.Printable).
func printable(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = report.Printable(l)
	}
	return out
}
