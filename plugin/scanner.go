package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/moby/buildkit/client"
	"github.com/secure-build/secure-build/bundle"
	"github.com/secure-build/secure-build/frontend"
	"github.com/tonistiigi/fsutil"
)

// scannerLocal is the local input that carries this binary to the builder.
const scannerLocal = "secure-build-scanner"

// scannerPathInImage is where the frontend image holds the binary that
// runs the scan step.
const scannerPathInImage = "/bin/secure-build-frontend"

// scanner is the scan step's program and, for a local one, its files.
type scanner struct {
	frontend.Scanner
	fs fsutil.FS
}

// chooseScanner sends this very binary to the builder when the builder can
// run it (same OS and architecture), with its loader and libraries if it is
// dynamically linked; else it uses the scanner image, saying why.
func chooseScanner(ctx context.Context, stderr io.Writer, c *client.Client, image string) (scanner, error) {
	if image != "" {
		return scanner{Scanner: frontend.Scanner{Image: image, Path: scannerPathInImage}}, nil
	}
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return scanner{}, fmt.Errorf("list the builder's workers: %w", err)
	}
	if len(workers) == 0 || len(workers[0].Platforms) == 0 {
		return scanner{}, fmt.Errorf("the builder has no workers")
	}
	builder := workers[0].Platforms[0]
	if runtime.GOOS == "linux" && builder.OS == "linux" && builder.Architecture == runtime.GOARCH {
		s, err := localScanner()
		if err == nil {
			return s, nil
		}
		if ScannerImage == "" {
			return scanner{}, err
		}
		fmt.Fprintf(stderr, "secure-build: cannot send this binary to the builder (%v); scanning with %s\n", err, ScannerImage)
	} else {
		if ScannerImage == "" {
			return scanner{}, fmt.Errorf("the builder is %s/%s and this binary is %s/%s, so it cannot run the scan step: name a scanner image with --scanner-image",
				builder.OS, builder.Architecture, runtime.GOOS, runtime.GOARCH)
		}
		fmt.Fprintf(stderr, "secure-build: the builder is %s/%s and this binary %s/%s: scanning with %s\n",
			builder.OS, builder.Architecture, runtime.GOOS, runtime.GOARCH, ScannerImage)
	}
	return scanner{Scanner: frontend.Scanner{Image: ScannerImage, Path: scannerPathInImage}}, nil
}

// localScanner bundles this executable into a folder of the user's cache
// named for its path, size and time, so that an unchanged binary is the same
// unchanged folder and BuildKit sends nothing on the next build.
func localScanner() (scanner, error) {
	exe, err := os.Executable()
	if err != nil {
		return scanner{}, fmt.Errorf("find this executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return scanner{}, fmt.Errorf("find this executable: %w", err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return scanner{}, fmt.Errorf("find this executable: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return scanner{}, fmt.Errorf("no cache folder for the scanner: %w", err)
	}
	key := sha256.Sum256([]byte(exe + "\x00" + strconv.FormatInt(fi.Size(), 10) + "\x00" + fi.ModTime().String()))
	dir := filepath.Join(cache, "secure-build", "scanner", hex.EncodeToString(key[:8]))
	if _, err := bundle.Executable(exe, dir, "docker-secure"); err != nil {
		return scanner{}, err
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		return scanner{}, fmt.Errorf("scanner bundle %s: %w", dir, err)
	}
	return scanner{Scanner: frontend.Scanner{Local: scannerLocal, Path: "/docker-secure"}, fs: fs}, nil
}
