package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/secure-build/secure-build/bundle"
)

// Scanner is the scan step's program for a builder: this executable sent
// as an image of the build's session, or an image of a registry.
type Scanner struct {
	// Image is the scanner image; empty for a local scanner.
	Image string
	// Local is the image whose files are the step's whole root filesystem:
	// this executable, and its loader and libraries if it has any. Path is
	// the executable in it.
	Local *ImageInput
	Path  string
}

// ScannerContext is the named context a local scanner is sent as.
const ScannerContext = "secure-build-scanner"

// WorkerPlatform is the platform of the builder's first worker: what a
// build without --platform builds for, and what the scan step runs on.
func WorkerPlatform(ctx context.Context, c *client.Client) (ocispecs.Platform, error) {
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return ocispecs.Platform{}, fmt.Errorf("list the builder's workers: %w", err)
	}
	if len(workers) == 0 || len(workers[0].Platforms) == 0 {
		return ocispecs.Platform{}, fmt.Errorf("the builder has no workers")
	}
	return platforms.Normalize(workers[0].Platforms[0]), nil
}

// ChooseScanner sends this very binary to the builder when the builder can
// run it (same OS and architecture), with its loader and libraries if it is
// dynamically linked; else it uses the release's scanner image, saying why.
// image, when given, is used whatever the builder.
func ChooseScanner(stderr io.Writer, builder ocispecs.Platform, image, release string) (Scanner, error) {
	if image != "" {
		return Scanner{Image: image}, nil
	}
	if runtime.GOOS == "linux" && builder.OS == "linux" && builder.Architecture == runtime.GOARCH {
		s, err := localScanner(stderr, builder)
		if err == nil {
			return s, nil
		}
		if release == "" {
			return Scanner{}, fmt.Errorf("cannot send this binary to the builder as its scanner (%w); name a scanner image with --scanner-image", err)
		}
		fmt.Fprintf(stderr, "secure-build: cannot send this binary to the builder (%v); scanning with %s\n", err, release)
	} else {
		if release == "" {
			return Scanner{}, fmt.Errorf("the builder is %s/%s and this binary is %s/%s, so it cannot run the scan step: name a scanner image with --scanner-image",
				builder.OS, builder.Architecture, runtime.GOOS, runtime.GOARCH)
		}
		fmt.Fprintf(stderr, "secure-build: the builder is %s/%s and this binary %s/%s: scanning with %s\n",
			builder.OS, builder.Architecture, runtime.GOOS, runtime.GOARCH, release)
	}
	return Scanner{Image: release}, nil
}

// ScanStepDigest is the sha256 digest ("sha256:...") of the
// secure-build-scan binary built with this one, set at link time (-ldflags
// "-X github.com/secure-build/secure-build/build.ScanStepDigest=..."; the
// Makefile and scripts/lib.sh do it). That binary, beside this executable,
// is then what a builder is sent to run the scan step: the step alone, a
// third of the plugin's size. Empty, or with no such file beside it, the
// plugin sends itself.
var ScanStepDigest string

// ScanStepName is the scan step binary's name, beside the plugin and in
// the scanner image. Not docker-*, so that the Docker CLI does not take it
// for a plugin.
const ScanStepName = "secure-build-scan"

// localScanner makes an image of the scan step binary built with this
// executable when it is beside it and is the one this executable was built
// with (ScanStepDigest), else of this executable.
func localScanner(stderr io.Writer, builder ocispecs.Platform) (Scanner, error) {
	exe, err := os.Executable()
	if err != nil {
		return Scanner{}, fmt.Errorf("find this executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return Scanner{}, fmt.Errorf("find this executable: %w", err)
	}
	return scannerOf(stderr, builder, exe, ScanStepDigest)
}

// scannerOf is localScanner for the executable exe linked with the scan
// step digest stepDigest.
func scannerOf(stderr io.Writer, builder ocispecs.Platform, exe, stepDigest string) (Scanner, error) {
	if stepDigest != "" {
		step := filepath.Join(filepath.Dir(exe), ScanStepName)
		if _, err := os.Stat(step); err == nil {
			s, err := bundledScanner(builder, step, ScanStepName, stepDigest)
			if err == nil {
				return s, nil
			}
			var other *otherScanStep
			if errors.As(err, &other) {
				fmt.Fprintf(stderr, "secure-build: %s is not the scan step this binary was built with (it is %s, this binary wants %s): sending this binary as the scanner\n", step, other.got, other.want)
			} else {
				fmt.Fprintf(stderr, "secure-build: cannot send %s (%v): sending this binary as the scanner\n", step, err)
			}
		}
	}
	return bundledScanner(builder, exe, "docker-secure", "")
}

// otherScanStep is a scan step binary of another build than this one's.
type otherScanStep struct{ got, want string }

func (e *otherScanStep) Error() string {
	return fmt.Sprintf("the scan step is %s, this binary was built with %s", e.got, e.want)
}

// bundledScanner makes an image of the executable exe, named name in it.
// Its layer is made once per executable (NewImageInput names it by the
// executable's identity): then the executable is bundled into a folder of
// the user's cache named for its path, size and time, with its loader and
// libraries if it has any; bundle.Executable checks that the folder is
// private and that every file in it has the content it bundles, so a file
// planted there is replaced, and the layer is made of the bundle. A digest,
// when given, is what the bundled executable must hash to.
func bundledScanner(builder ocispecs.Platform, exe, name string, want string) (Scanner, error) {
	fi, err := os.Stat(exe)
	if err != nil {
		return Scanner{}, fmt.Errorf("find this executable: %w", err)
	}
	key := sha256.Sum256([]byte(exe + "\x00" + strconv.FormatInt(fi.Size(), 10) + "\x00" + fi.ModTime().String()))
	dir := filepath.Join(cacheDir(), "scanner", hex.EncodeToString(key[:8]))
	bundled := func() ([]LayerFile, error) {
		// Marked as in use before it is filled, so that no other build
		// prunes it meanwhile.
		if err := bundle.PrivateDir(dir); err != nil {
			return nil, err
		}
		now := time.Now()
		if err := os.Chtimes(dir, now, now); err != nil {
			return nil, fmt.Errorf("scanner bundle %s: %w", dir, err)
		}
		b, err := bundle.Executable(exe, dir, name)
		if err != nil {
			return nil, err
		}
		if got := "sha256:" + hex.EncodeToString(b.Digest); want != "" && got != want {
			return nil, &otherScanStep{got: got, want: want}
		}
		if err := pruneBundles(filepath.Dir(dir), dir); err != nil {
			return nil, err
		}
		var files []LayerFile
		for _, f := range b.Files {
			files = append(files, LayerFile{Name: f, Host: filepath.Join(dir, f)})
		}
		return files, nil
	}
	sources := []LayerFile{{Name: name, Host: exe}}
	if want != "" {
		// A layer checked against one digest is not taken for another's.
		sources = append(sources, LayerFile{Name: name + ".digest", Data: []byte(want)})
	}
	in, err := NewImageInput(ScannerContext, builder, layerCacheDir(), sources, bundled)
	if err != nil {
		return Scanner{}, fmt.Errorf("scanner %s: %w", exe, err)
	}
	return Scanner{Local: in, Path: "/" + name}, nil
}

// pruneBundles removes the scanner bundles of parent that the cache no
// longer keeps (see stale): each is a copy of an executable, 50 MB for
// this one, and every new binary makes one. keep is the bundle in use.
func pruneBundles(parent, keep string) error {
	dirs, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("scanner bundles %s: %w", parent, err)
	}
	var entries []cacheEntry
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		fi, err := d.Info()
		if err != nil {
			continue // removed by another build
		}
		entries = append(entries, cacheEntry{path: filepath.Join(parent, d.Name()), used: fi.ModTime()})
	}
	for _, e := range stale(entries, keep) {
		if err := os.RemoveAll(e.path); err != nil {
			return fmt.Errorf("scanner bundles: %w", err)
		}
	}
	return nil
}
