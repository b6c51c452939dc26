package plugin

import (
	"fmt"
	"io"
	"strings"

	"github.com/docker/cli/cli/command"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/scan"
	"github.com/spf13/cobra"
)

type sbomOptions struct {
	format string
	output string
}

var sbomFormats = []string{"table", "spdx-json", "cyclonedx-json"}

func newSBOMCmd(dockerCli command.Cli) *cobra.Command {
	var opts sbomOptions
	cmd := &cobra.Command{
		Use:   "sbom [OPTIONS] TARGET",
		Short: "List the packages of a root filesystem or an image",
		Long: `List the packages of a root filesystem or an image as a table, SPDX 2.3 JSON
or CycloneDX 1.6 JSON.

TARGET is one of:
  DIR                               a directory holding a root filesystem
  FILE                              an image tar, known by its content: one written
                                    by "docker save" or "-o type=docker" (it has
                                    manifest.json), else an OCI layout's, as
                                    "-o type=oci,dest=FILE" writes it
  oci-layout:PATH[:TAG|@DIGEST]     an OCI image layout, a folder or a tar of one
                                    (layers applied in order)
  docker-archive:FILE               a tar written by "docker save" (an OCI layout's
                                    tar is read as one)
  registry:REF                      an image in a registry (this machine's platform
                                    of an index; another one by its digest), with the
                                    credentials of "docker login"
  sbom:FILE                         an SPDX 2.3 JSON document (read, not cataloged again)

An image tar is read where it is, not extracted; a truncated or corrupt one
is an error naming the file.

It finds OS packages (dpkg, apk, rpm) and the distribution from /etc/os-release,
Go and Rust (cargo-auditable) binaries, npm, Python, Java, RubyGems, PHP
Composer and .NET packages. With SOURCE_DATE_EPOCH set, the same input gives
byte-identical output. What could not be read completely (a package
database, a lockfile, an archive) makes the SBOM INCOMPLETE: each is named
with why on stderr, and the rest is still cataloged. Exit status: 0 done, 2
an error.`,
		Example: `  # Packages of an unpacked Debian root
  docker secure sbom ./rootfs

  # SPDX 2.3 JSON of an image in an OCI layout, into a file
  docker secure sbom --format spdx-json -o app.spdx.json oci-layout:./layout:1.0

  # CycloneDX 1.6 JSON of an image saved with "docker save"
  docker secure sbom --format cyclonedx-json docker-archive:app.tar

  # Packages of the OCI tar a build wrote with -o type=oci,dest=app.tar
  docker secure sbom app.tar

  # Packages of an image in a registry, pulled layer by layer (no daemon)
  docker secure sbom registry:registry.example.com/app:1`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSBOM(cmd, dockerCli, opts, args[0])
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", "Output format: "+strings.Join(sbomFormats, ", "))
	flags.StringVarP(&opts.output, "output", "o", "", "Write to FILE instead of standard output")
	return cmd
}

func runSBOM(cmd *cobra.Command, dockerCli command.Cli, opts sbomOptions, target string) error {
	write, err := sbomWriter(opts.format)
	if err != nil {
		return err
	}
	created, err := sbom.CreatedTime()
	if err != nil {
		return err
	}
	doc, err := scan.Catalog(cmd.Context(), target)
	if err != nil {
		return err
	}
	if len(doc.Incomplete) > 0 {
		fmt.Fprintf(dockerCli.Err(), "INCOMPLETE: this SBOM lacks what could not be read completely (%d):\n", len(doc.Incomplete))
		for _, gap := range doc.Incomplete {
			fmt.Fprintf(dockerCli.Err(), "  not read: %s\n", report.Printable(gap.String()))
		}
	}
	encode := sbom.EncodeOptions{Created: created, ToolVersion: Version}
	return writeOutput(dockerCli.Out(), opts.output, func(w io.Writer) error { return write(doc, w, encode) })
}

func sbomWriter(format string) (func(*sbom.SBOM, io.Writer, sbom.EncodeOptions) error, error) {
	switch format {
	case "table":
		return func(s *sbom.SBOM, w io.Writer, _ sbom.EncodeOptions) error { return printableSBOM(s).WriteTable(w) }, nil
	case "spdx-json":
		return (*sbom.SBOM).WriteSPDX, nil
	case "cyclonedx-json":
		return (*sbom.SBOM).WriteCycloneDX, nil
	}
	return nil, fmt.Errorf("--format %q: want one of %s", format, strings.Join(sbomFormats, ", "))
}

// printableSBOM is doc with what the image wrote (names, versions, paths,
// os-release) escaped for a terminal: the table is for a person; the SPDX
// and CycloneDX documents keep the exact text.
func printableSBOM(doc *sbom.SBOM) *sbom.SBOM {
	out := *doc
	if d := doc.Distro; d != nil {
		out.Distro = &sbom.Distro{ID: report.Printable(d.ID), VersionID: report.Printable(d.VersionID),
			VersionCodename: report.Printable(d.VersionCodename), PrettyName: report.Printable(d.PrettyName)}
	}
	out.Packages = make([]sbom.Package, len(doc.Packages))
	for i, p := range doc.Packages {
		p.Name, p.Version, p.Type = report.Printable(p.Name), report.Printable(p.Version), report.Printable(p.Type)
		p.SourceName, p.SourceVersion = report.Printable(p.SourceName), report.Printable(p.SourceVersion)
		p.Locations = printable(p.Locations)
		out.Packages[i] = p
	}
	return &out
}
