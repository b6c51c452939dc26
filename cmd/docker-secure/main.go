// Command docker-secure is secure-build's Docker CLI plugin ("docker secure")
// and, run by its own name, the same commands standalone.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli-plugins/metadata"
	cliplugin "github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/secure-build/secure-build/plugin"
	"github.com/secure-build/secure-build/scanstep"
	"github.com/spf13/cobra"
)

func main() {
	// Inside a build, BuildKit runs this binary as the scan step, with no
	// Docker CLI around it.
	if len(os.Args) > 1 && os.Args[1] == scanstep.Command {
		if err := scanstep.Run(context.Background(), os.Args[2:], plugin.Version); err != nil {
			fmt.Fprintf(os.Stderr, "secure-build scan step: %v\n", err)
			os.Exit(plugin.ExitError)
		}
		return
	}
	if !cliplugin.RunningStandalone() {
		cliplugin.Run(func(dockerCli command.Cli) *cobra.Command {
			return plugin.NewRootCmd("secure", dockerCli)
		}, metadata.Metadata{
			SchemaVersion:    "0.1.0",
			Vendor:           "secure-build",
			Version:          plugin.Version,
			ShortDescription: "Scan images while they build (secure-build)",
			URL:              "https://github.com/secure-build/secure-build",
		})
		return
	}
	dockerCli, err := command.NewDockerCli()
	if err == nil {
		err = dockerCli.Initialize(cliflags.NewClientOptions())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(plugin.ExitError)
	}
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	if err := plugin.NewRootCmd(name, dockerCli).Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(plugin.ExitCode(err))
	}
}
