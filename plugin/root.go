// Package plugin holds the commands of docker-secure: the Docker CLI plugin
// "docker secure" and the same commands run standalone. Commands parse flags
// and print; the work is done by the packages they call.
package plugin

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/secure-build/secure-build/report"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is secure-build's version, set at build time with
// -ldflags "-X github.com/secure-build/secure-build/plugin.Version=...".
var Version = "dev"

// Exit statuses shared by every command, run by the docker CLI or
// standalone; 0 is a pass. A command returns a cli.StatusError with one of
// them, its cause kept for errors.As. The README's "Exit status" section
// documents them.
const (
	// ExitBuildFailed: the build failed, as "docker buildx build" exits.
	ExitBuildFailed = 1
	// ExitError: a usage error (an unknown command or flag, a missing
	// argument, a bad flag value) or an input error (a missing target, no
	// database, a registry error).
	ExitError = 2
	// ExitPolicyFailed: the policy failed (the cause is a
	// *scan.PolicyError, or a *frontend.PolicyError for a build); --exit-code
	// sets another. Neither 1 nor 2, so that a pipeline tells a vulnerable
	// image from a broken build (buildx's 1) and a mistyped command (2), the
	// statuses Trivy's customary --exit-code 1 and Grype's --fail-on 2 would
	// confuse it with.
	ExitPolicyFailed = 3
	// maxExitCode is the highest status --exit-code may set: the docker CLI
	// exits 125 for its own errors, and shells give 126 and up meanings
	// (not executable, not found, killed by a signal).
	maxExitCode = 125
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

// policyFailed is the error of a command whose policy failed: cause, with
// the status --exit-code set. With --exit-code 0 the failure is only
// reported: cause is printed on stderr and the command passes.
func policyFailed(stderr io.Writer, cause error, exitCode int) error {
	if exitCode == 0 {
		fmt.Fprintf(stderr, "%s\n(reported only: --exit-code 0)\n", report.PrintableLines(cause.Error()))
		return nil
	}
	return cli.StatusError{Cause: cause, StatusCode: exitCode}
}

// checkExitCode refuses an --exit-code no shell can tell apart.
func checkExitCode(code int) error {
	if code < 0 || code > maxExitCode {
		return fmt.Errorf("--exit-code %d: want 0 to %d (126 and above mean other things to a shell)", code, maxExitCode)
	}
	return nil
}

// usageError is err, a command line cmd cannot run, with cmd's usage as the
// docker CLI shows its own, and the usage status: under the docker CLI a
// flag error would otherwise exit 125 and a missing argument 1.
func usageError(cmd *cobra.Command, err error) error {
	usage := cmd.UseLine()
	if cmd.HasSubCommands() {
		usage = cmd.CommandPath() + " COMMAND"
	}
	return cli.StatusError{
		Cause:      err,
		Status:     fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information", report.PrintableLines(err.Error()), usage, cmd.CommandPath()),
		StatusCode: ExitError,
	}
}

// unknownCommand refuses an argument to a command group: it is a mistyped
// command. Under the docker CLI a group is not cobra's root, which alone
// checks this, and "docker secure scna ." would print help and exit 0.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
		msg += "\n\nDid you mean this?\n  " + strings.Join(suggestions, "\n  ")
	}
	return errors.New(msg)
}

// exactArgs wants n arguments, named as the usage line names them.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return fmt.Errorf("%q requires %d %s (%s), got %d", cmd.CommandPath(), n, pluralWord(n, "argument", "arguments"), argNames(cmd), len(args))
	}
}

// minArgs wants n arguments or more.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return fmt.Errorf("%q requires at least %d %s (%s)", cmd.CommandPath(), n, pluralWord(n, "argument", "arguments"), argNames(cmd))
	}
}

// noArgs wants no argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return fmt.Errorf("%q accepts no arguments, got %q", cmd.CommandPath(), args)
}

// argNames are the arguments of cmd's usage line: "TARGET" of
// "scan [OPTIONS] TARGET".
func argNames(cmd *cobra.Command) string {
	words := slices.DeleteFunc(strings.Fields(cmd.Use)[1:], func(w string) bool { return w == "[OPTIONS]" })
	return strings.Join(words, " ")
}

// withExitStatus gives cmd and its subcommands the exit statuses, as
// cli.StatusError, which is how the Docker CLI's plugin runner learns the
// status to exit with: without it every error would exit 1, and a flag
// error 125. A run's error keeps its status or gets ExitError, its message
// escaped for the terminal (errors quote image content: paths, names); an
// unknown flag, a wrong number of arguments and a mistyped command are
// usage errors. A command group, run with no command, shows its help.
func withExitStatus(cmd *cobra.Command) {
	cmd.DisableFlagsInUseLine = true
	if cmd.HasSubCommands() && cmd.RunE == nil {
		cmd.SuggestionsMinimumDistance = 2 // cobra's, set only for its root
		cmd.Args = unknownCommand
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	} else if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			warnDeprecated(c)
			err := run(c, args)
			if err == nil {
				return nil
			}
			return cli.StatusError{Cause: err, Status: report.PrintableLines(err.Error()), StatusCode: ExitCode(err)}
		}
	}
	if validate := cmd.Args; validate != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := validate(c, args); err != nil {
				return usageError(c, err)
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		withExitStatus(sub)
	}
}

// deprecatedFlag annotates a flag kept for old scripts, hidden from help,
// with what to use instead. pflag's own deprecation note would be printed
// where cobra prints help, which under the docker CLI is stdout, into the
// JSON or SARIF a user redirects there.
const deprecatedFlag = "secure-build/deprecated"

// warnDeprecated says on stderr which deprecated flags c was given.
func warnDeprecated(c *cobra.Command) {
	c.Flags().Visit(func(f *pflag.Flag) {
		if instead := f.Annotations[deprecatedFlag]; len(instead) > 0 {
			fmt.Fprintf(c.ErrOrStderr(), "warning: --%s is deprecated: %s\n", f.Name, instead[0])
		}
	})
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
the "docker secure-build" command is spelled "docker secure".

Exit status, every command: 0 passed; 1 the build failed (build only, as
docker buildx build); 2 a usage or input error (an unknown command or flag, a
missing argument, a bad value, a missing target, no database, a registry
error); 3 the policy failed (build, scan, verify; --exit-code N sets N, and
--exit-code 0 only reports it).`,
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
	// Help and warnings go where the commands write.
	cmd.SetOut(dockerCli.Out())
	cmd.SetErr(dockerCli.Err())
	// Found before the docker CLI's own, which exits 125.
	cmd.SetFlagErrorFunc(usageError)
	cmd.AddCommand(newBuildCmd(dockerCli), newSBOMCmd(dockerCli), newScanCmd(dockerCli), newDBCmd(dockerCli))
	cmd.AddCommand(newVerifyCmd(dockerCli), newInspectCmd(dockerCli), newRecommendCmd(dockerCli))
	cmd.AddCommand(newAttestCmd(dockerCli))
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
