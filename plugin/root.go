// Package plugin holds the commands of docker-secure: the Docker CLI plugin
// "docker secure" and the same commands run standalone. Commands parse flags
// and print; the work is done by the packages they call.
package plugin

import (
	"errors"
	"fmt"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/secure-build/secure-build/report"
	"github.com/spf13/cobra"
)

// Version is secure-build's version, set at build time with
// -ldflags "-X github.com/secure-build/secure-build/plugin.Version=...".
var Version = "dev"

// Exit statuses shared by every command; 0 is a pass. A command returns a
// cli.StatusError with one of them, its cause kept for errors.As.
const (
	// ExitPolicyFailed: the policy failed (the cause is a
	// *scan.PolicyError, or a *frontend.PolicyError for a build).
	ExitPolicyFailed = 1
	// ExitBuildFailed: the build failed, as "docker buildx build" exits.
	ExitBuildFailed = 1
	// ExitError: bad input, a missing database, a registry error.
	ExitError = 2
)

// ExitCode is the status the process exits with after err: a command's
// own status where it set one, else ExitError.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if st, ok := errors.AsType[cli.StatusError](err); ok && st.StatusCode != 0 {
		return st.StatusCode
	}
	return ExitError
}

// withExitStatus makes every error of cmd and its subcommands a
// cli.StatusError, which is how the Docker CLI's plugin runner learns the
// status to exit with; without it every error would exit 1. Its message is
// escaped for the terminal: errors quote image content (paths, names).
func withExitStatus(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			if err == nil {
				return nil
			}
			return cli.StatusError{Cause: err, Status: report.PrintableLines(err.Error()), StatusCode: ExitCode(err)}
		}
	}
	for _, sub := range cmd.Commands() {
		withExitStatus(sub)
	}
}

// NewRootCmd returns the "secure" command: name is "secure" under the Docker
// CLI and the binary's name standalone.
func NewRootCmd(name string, dockerCli command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: "Scan images while they build: SBOMs, vulnerabilities and policy",
		Long: `secure-build scans the final stage of a build while it builds, fails the build
by policy, or attaches the SBOM and the scan result to the image.

The Docker CLI allows only lowercase letters and digits in a plugin's name, so
the "docker secure-build" command is spelled "docker secure".`,
		Example: fmt.Sprintf(`  # List the packages of an unpacked root filesystem
  %[1]s sbom ./rootfs

  # The SPDX 2.3 SBOM of an image saved with "docker save"
  %[1]s sbom --format spdx-json -o app.spdx.json docker-archive:app.tar

  # Get the OSV data once, then scan offline; fails on a fixable critical
  %[1]s db update
  %[1]s scan docker-archive:app.tar`, commandPath(name)),
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	cmd.SetVersionTemplate("secure-build {{.Version}}\n")
	cmd.AddCommand(newBuildCmd(dockerCli), newSBOMCmd(dockerCli), newScanCmd(dockerCli), newDBCmd(dockerCli))
	cmd.AddCommand(newVerifyCmd(dockerCli), newInspectCmd(dockerCli))
	withExitStatus(cmd)
	return cmd
}

// commandPath is how a user types the command: "docker secure" under the
// Docker CLI, the binary's own name standalone.
func commandPath(name string) string {
	if name == "secure" {
		return "docker secure"
	}
	return name
}
