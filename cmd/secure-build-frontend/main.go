// Command secure-build-frontend is secure-build's BuildKit frontend image's
// entry point. One binary, three jobs, told apart by how BuildKit runs it:
//   - as a gateway frontend (# syntax=IMAGE, --frontend gateway.v0): the
//     entrypoint alone, talking gRPC over its standard streams;
//   - as the scan step of its own builds: "secure-build-frontend scan-step";
//   - as a generator of BuildKit's SBOM protocol (--sbom=generator=IMAGE):
//     entrypoint and cmd, with BUILDKIT_SCAN_DESTINATION set.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	// The vtproto codec BuildKit's own frontends register for gRPC.
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto"
	"github.com/secure-build/secure-build/frontend"
	"github.com/secure-build/secure-build/scanstep"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

func main() {
	if err := run(appcontext.Context()); err != nil {
		fmt.Fprintf(os.Stderr, "secure-build-frontend: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	switch {
	case len(os.Args) > 1 && os.Args[1] == scanstep.Command:
		return scanstep.Run(ctx, os.Args[2:], Version)
	case os.Getenv(frontend.EnvScanDestination) != "":
		return frontend.RunGenerator(ctx, Version)
	case len(os.Args) > 1 && os.Args[1] == "--version":
		fmt.Println("secure-build-frontend", Version)
		return nil
	}
	return grpcclient.RunFromEnvironment(ctx, frontend.Build(frontend.Options{
		Scanner:     frontend.Scanner{Self: true, Path: frontend.ScannerPath},
		ToolVersion: Version,
	}))
}
