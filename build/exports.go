package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	dockerclient "github.com/moby/moby/client"
	"github.com/secure-build/secure-build/builder"
)

// Exports are a build's outputs as a given builder exports them, and what
// is left to do once the build passed: the files and folders BuildKit
// wrote beside their destinations, and the images Docker Engine pushes.
type Exports struct {
	// Entries are the solve's exports.
	Entries []client.ExportEntry
	staged  []outputFinisher
	pushes  []string
	engine  dockerclient.APIClient
	config  *configfile.ConfigFile
	// progress receives the load's and the push's progress.
	progress io.Writer
}

// NewExports makes the outputs what drv needs: on Docker Engine's own
// BuildKit, an image goes into the engine through its moby exporter and
// the engine pushes it once the build passed; elsewhere, a load into
// Docker is a tar loaded once the build passed, and a build with no output
// only fills the build cache. File and folder outputs are staged. config
// holds the registry credentials of a push from the engine; warn receives
// what the user should know about the outputs.
func NewExports(ctx context.Context, outputs []Output, drv builder.Driver, config *configfile.ConfigFile, warn io.Writer) (*Exports, error) {
	engine := drv.Engine()
	entries, staged, err := exportsFor(outputs, target{
		moby:            drv.IsMobyDriver(),
		containerdStore: sync.OnceValues(func() (bool, error) { return builder.KeepsAttestations(ctx, engine) }),
		load:            func(r io.Reader) error { return loadImage(ctx, engine, r, warn) },
		warn:            warn,
	})
	if err != nil {
		return nil, err
	}
	e := &Exports{Entries: entries, staged: staged, engine: engine, config: config, progress: warn}
	if drv.IsMobyDriver() {
		e.pushes = takeEnginePushes(entries)
	}
	return e, nil
}

// Receiving reports whether BuildKit is writing into a folder output's
// staging folder: the export has begun there.
func (e *Exports) Receiving() bool {
	for _, f := range e.staged {
		if d, ok := f.(*outputDir); ok && d.staging != "" {
			if entries, err := os.ReadDir(d.staging); err == nil && len(entries) > 0 {
				return true
			}
		}
	}
	return false
}

// Finish puts the outputs into place and pushes from the engine when the
// build passed (ok); otherwise it removes what the build wrote, leaving
// every destination as it was. It does its work once.
func (e *Exports) Finish(ctx context.Context, ok bool) error {
	staged := e.staged
	e.staged = nil
	if err := finishAll(staged, ok); err != nil || !ok {
		return err
	}
	pushes := e.pushes
	e.pushes = nil
	return pushFromEngine(ctx, e.engine, e.config, pushes, e.progress)
}

// target is what the outputs depend on besides the flags: whether the
// builder is a Docker Engine's own BuildKit, and whether the engine an
// image is loaded into keeps attestations.
type target struct {
	// moby is set for the docker driver: images go into the engine
	// through its moby exporter.
	moby bool
	// containerdStore reports whether the engine images are loaded into
	// uses the containerd image store; asked only when an output needs it.
	containerdStore func() (bool, error)
	// load sends a finished image tar into the engine.
	load func(io.Reader) error
	// warn receives what the user should know about the outputs.
	warn io.Writer
}

func exportsFor(outputs []Output, t target) ([]client.ExportEntry, []outputFinisher, error) {
	if len(outputs) == 0 {
		fmt.Fprintln(t.warn, "WARNING: No output specified: the build result will only remain in the build cache.\n"+
			"         To push it use --push, to load it into docker use --load, or name another with -o.")
	}
	var (
		entries []client.ExportEntry
		staged  []outputFinisher
	)
	for _, o := range outputs {
		e, out, err := exportFor(o, t)
		if err == nil {
			err = stageOutput(&e, out)
		}
		if err != nil {
			finishAll(staged, false)
			return nil, nil, fmt.Errorf("--output %q: %w", o.spec, err)
		}
		entries = append(entries, e)
		if out != nil {
			staged = append(staged, out)
		}
	}
	return entries, staged, nil
}

func exportFor(o Output, t target) (client.ExportEntry, outputFinisher, error) {
	e := client.ExportEntry{Type: o.Type, Attrs: o.Attrs}
	if t.moby && (o.Type == client.ExporterImage || o.Type == client.ExporterDocker && o.Dest == "") {
		// Docker Engine's BuildKit has no image exporter of its own: its
		// moby exporter stores into the engine, and pushes with push=true.
		e.Type = mobyExporter
		return e, nil, warnClassicStore(t)
	}
	switch {
	case o.Type == client.ExporterImage:
		markAttestationsArtifacts(e.Attrs)
		return e, nil, nil
	case o.Type == client.ExporterLocal:
		e.OutputDir = o.Dest
		return e, &outputDir{path: o.Dest, deleteOthers: o.Attrs["mode"] == string(client.LocalExporterModeDelete)}, nil
	case o.Type != client.ExporterTar && o.Attrs["tar"] == "false":
		if o.Dest == "" {
			return e, nil, fmt.Errorf("type=%s,tar=false needs dest=DIR", o.Type)
		}
		e.OutputDir = o.Dest
		return e, &outputDir{path: o.Dest, layout: true}, nil
	case o.Type == client.ExporterDocker && o.Dest == "":
		// As buildx: an engine with the containerd image store loads an
		// OCI tar, attestations and all; the classic store takes the
		// docker tar and drops them.
		containerd, err := t.containerdStore()
		if err != nil {
			return e, nil, err
		}
		if containerd {
			e.Type = client.ExporterOCI
		} else {
			fmt.Fprintln(t.warn, classicStoreWarning)
		}
		out := &outputFile{path: "docker-load.tar", load: t.load}
		e.Output = out.output
		return e, out, nil
	}
	out := &outputFile{path: o.Dest}
	e.Output = out.output
	return e, out, nil
}

// outputFinisher is an output BuildKit writes beside its destination:
// finish puts it into place when the build passed, else removes it.
type outputFinisher interface {
	finish(ok bool) error
}

func finishAll(staged []outputFinisher, ok bool) error {
	var errs []error
	for _, f := range staged {
		errs = append(errs, f.finish(ok))
	}
	return errors.Join(errs...)
}

// stageOutput checks a file output's destination, and points BuildKit at
// a folder output's staging folder.
func stageOutput(e *client.ExportEntry, out outputFinisher) error {
	switch out := out.(type) {
	case *outputFile:
		return out.check()
	case *outputDir:
		if err := out.stage(); err != nil {
			return err
		}
		e.OutputDir = out.staging
	}
	return nil
}

// mobyExporter is the exporter of Docker Engine's embedded BuildKit.
const mobyExporter = "moby"

// classicStoreWarning says what an image loaded into an engine with the
// classic image store lacks, and how to keep it.
const classicStoreWarning = "secure-build: this Docker Engine uses the classic image store, which keeps no attestations: the image\n" +
	"  goes in without its SBOM and scan attestations (the scan, the policy and --sbom-output are unchanged).\n" +
	"  Attestations need the containerd image store (\"features\": {\"containerd-snapshotter\": true} in daemon.json),\n" +
	"  or a docker-container or remote builder with --push or --output type=oci."

// warnClassicStore prints classicStoreWarning when the builder's engine
// uses the classic image store.
func warnClassicStore(t target) error {
	containerd, err := t.containerdStore()
	if err != nil {
		return err
	}
	if !containerd {
		fmt.Fprintln(t.warn, classicStoreWarning)
	}
	return nil
}

// takeEnginePushes turns the moby exports that push into plain ones and
// returns the names to push: as buildx does, the engine pushes them itself
// once the build has passed, which its classic image store needs (its
// moby exporter cannot push) and which the containerd store does with the
// attestation manifests.
func takeEnginePushes(exports []client.ExportEntry) []string {
	var names []string
	for _, e := range exports {
		if e.Type != mobyExporter || e.Attrs["push"] != "true" {
			continue
		}
		delete(e.Attrs, "push")
		for name := range strings.SplitSeq(e.Attrs["name"], ",") {
			if name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// markAttestationsArtifacts asks the image exporter to write attestation
// manifests as OCI 1.1 artifacts whose subject is their image manifest
// (oci-artifact=true), so that registries with the referrers API list them
// beside the image; the index keeps its vnd.docker.reference annotations,
// which Docker Scout and imagetools read. Not where the user chose, nor with
// Docker media types, which cannot carry a subject.
func markAttestationsArtifacts(attrs map[string]string) {
	if _, set := attrs[string(exptypes.OptKeyOCIArtifact)]; set || attrs[string(exptypes.OptKeyOCITypes)] == "false" {
		return
	}
	attrs[string(exptypes.OptKeyOCIArtifact)] = "true"
}
