// Command secure-build-scan is the scan step alone: what "docker secure
// build" sends a builder to run over the final stage, in place of the whole
// plugin, when it was built beside it (see build.ScanStepDigest). It is a
// third of the plugin's size, so a cold builder is sent, unpacks and writes
// back that much less, and it starts faster.
//
//	secure-build-scan scan-step [--states N]
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/secure-build/secure-build/scanstep"
)

// Version is set at build time with -ldflags "-X main.Version=...", the
// plugin's own version.
var Version = "dev"

func main() {
	if len(os.Args) < 2 || os.Args[1] != scanstep.Command {
		fmt.Fprintf(os.Stderr, "usage: %s %s [flags]: the scan step of a secure-build build, which BuildKit runs\n", os.Args[0], scanstep.Command)
		os.Exit(2)
	}
	if err := scanstep.Run(context.Background(), os.Args[2:], Version); err != nil {
		fmt.Fprintf(os.Stderr, "secure-build scan step: %v\n", err)
		os.Exit(1)
	}
}
