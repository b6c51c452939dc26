package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/scan"
	"github.com/secure-build/secure-build/vuln"
	spdxjson "github.com/spdx/tools-golang/json"
)

// StepCommand is the first argument that makes the secure-build binary run
// the scan step instead of its commands.
const StepCommand = "scan-step"

// Paths inside the scan step's container.
const (
	stepSourceDir = "/run/src/core/sbom"
	stepExtrasDir = "/run/src/extras"
	stepDBDir     = "/run/db"
	stepOutDir    = "/run/out"
	// stepChainDir holds the states the final stage went through, one
	// folder each, named by index: 00 the base, then each instruction's.
	stepChainDir = "/run/chain"
)

// Files the scan step writes into its output folder.
const (
	sbomFile       = "sbom.spdx.json"
	stepResultFile = "scan.json"
	// An extra stage's SBOM is sbom-<stage>.spdx.json, the name BuildKit's
	// generators give extras.
	extraSBOMPrefix = "sbom-"
)

// stepResultFormat is the version of scan.json's shape; 2 added Incomplete,
// 3 Origins.
const stepResultFormat = 3

// StepResult is what the scan step found, written as scan.json. It holds
// no verdict: the build function decides on every build, so a cached step
// still sees today's policy and database age.
type StepResult struct {
	// Format is stepResultFormat: a scanner of another version writes
	// another shape (an older one no incompleteness), which must not read
	// as a complete scan.
	Format   int            `json:"format"`
	Findings []vuln.Finding `json:"findings"`
	// Updated is when each archive of the database was last imported.
	Updated map[string]time.Time `json:"updated"`
	// Incomplete names what decides findings and could not be read: the
	// final stage's catalog and match. A gate fails on it unless the
	// policy relaxes it.
	Incomplete []sbom.Incompleteness `json:"incomplete,omitempty"`
	Packages   int                   `json:"packages"`
	// Distro is the final stage's distribution, what the reports name
	// without reading the whole SBOM.
	Distro *sbom.Distro `json:"distro,omitempty"`
	// States is how many states of the build Origins index: the base,
	// each instruction's, the final stage. Origins hold indices only: the
	// frontend names the lines on every build, so a cached step still
	// points at today's Dockerfile lines.
	States    int                  `json:"states,omitempty"`
	Origins   []origin.StateOrigin `json:"origins,omitempty"`
	StartedAt time.Time            `json:"startedAt"`
	EndedAt   time.Time            `json:"endedAt"`
}

// RunStep is the scan step's process: flags name the folders (the defaults
// are where the build function mounts them), it catalogs the stage's root,
// matches it against the database (the first half of the scan pipeline;
// decide runs the other) and writes the SBOMs and scan.json.
func RunStep(ctx context.Context, args []string, toolVersion string) error {
	fs := flag.NewFlagSet(StepCommand, flag.ContinueOnError)
	source := fs.String("source", stepSourceDir, "root filesystem of the final stage")
	extras := fs.String("extras", stepExtrasDir, "folder of other stages' roots, one folder each")
	dbDir := fs.String("db", stepDBDir, "vulnerability database folder")
	out := fs.String("out", stepOutDir, "output folder")
	chain := fs.String("chain", stepChainDir, "folder of the states the final stage went through, 00 the base")
	states := fs.Int("states", 0, "how many states the final stage went through, itself included; 0 attributes nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	started := time.Now().UTC()
	// The database is expanded and checked while the root is cataloged.
	opening := openDatabase(*dbDir)
	defer opening.close()

	created, err := sbom.CreatedTime()
	if err != nil {
		return err
	}
	encode := sbom.EncodeOptions{Created: created, ToolVersion: toolVersion}
	doc, err := sbom.Catalog(ctx, *source, "final stage")
	if err != nil {
		return err
	}
	// The SBOM is written, and attribution reads the earlier states, while
	// the catalog is matched: all three only read the catalog.
	writing := start(func() (struct{}, error) {
		return struct{}{}, writeSPDX(filepath.Join(*out, sbomFile), doc, encode)
	})
	tracing := start(func() ([]origin.StateOrigin, error) {
		if *states == 0 {
			return nil, nil
		}
		roots, err := chainRoots(*chain, *states, *source)
		if err != nil {
			return nil, err
		}
		return origin.Trace(ctx, roots, doc)
	})
	db, err := opening.wait()
	if err != nil {
		return err
	}
	m, err := scan.Match(db, doc)
	if err != nil {
		return err
	}
	if _, err := writing.wait(); err != nil {
		return err
	}
	stages, err := extraStages(*extras)
	if err != nil {
		return err
	}
	for _, st := range stages {
		extra, err := sbom.Catalog(ctx, st.root, st.name)
		if err != nil {
			return err
		}
		if err := writeSPDX(filepath.Join(*out, st.file), extra, encode); err != nil {
			return err
		}
	}
	origins, err := tracing.wait()
	if err != nil {
		return err
	}
	res := StepResult{
		States:     *states,
		Origins:    origins,
		Format:     stepResultFormat,
		Findings:   m.Findings,
		Updated:    m.Updated,
		Incomplete: m.Incomplete,
		Packages:   len(doc.Packages),
		Distro:     doc.Distro,
		StartedAt:  started,
		EndedAt:    time.Now().UTC(),
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode scan result: %w", err)
	}
	return writeFile(filepath.Join(*out, stepResultFile), b)
}

// openingDatabase is the step's database being opened in the background:
// expanded from its compressed archives into a folder of the step's /tmp,
// then checked.
type openingDatabase struct {
	*future[*vuln.DB]
	tmp string
}

func openDatabase(dir string) *openingDatabase {
	o := &openingDatabase{}
	o.future = start(func() (*vuln.DB, error) {
		tmp, err := os.MkdirTemp("", "secure-build-db-")
		if err != nil {
			return nil, fmt.Errorf("expand the vulnerability database: %w", err)
		}
		o.tmp = tmp
		open, err := vuln.Expand(dir, tmp)
		if err != nil {
			return nil, err
		}
		return vuln.Open(open)
	})
	return o
}

// close closes the database and removes its expanded files.
func (o *openingDatabase) close() {
	if db, _ := o.wait(); db != nil {
		db.Close()
	}
	if o.tmp != "" {
		os.RemoveAll(o.tmp)
	}
}

// chainRoots are the roots of the states the step traces, the final one
// last. The base's folder is missing when the stage has no base (FROM
// scratch); any other missing state is an error, not a guess.
func chainRoots(dir string, states int, final string) ([]string, error) {
	roots := make([]string, states)
	for i := range states - 1 {
		p := filepath.Join(dir, fmt.Sprintf("%02d", i))
		if _, err := os.Stat(p); err != nil {
			if i == 0 && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("state %d of the final stage: %w", i, err)
		}
		roots[i] = p
	}
	roots[states-1] = final
	return roots, nil
}

// extraStage is another stage's root the step or the generator is given.
type extraStage struct {
	root string // its folder
	name string // "stage build", the SBOM's name
	file string // sbom-build.spdx.json, the SBOM's file
}

// extraStages lists the folders under dir, each a stage's root mounted as
// sbom-<stage> (the name BuildKit gives extras); no dir is no extras.
func extraStages(dir string) ([]extraStage, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read extra stages %s: %w", dir, err)
	}
	var out []extraStage
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, extraStage{
				root: filepath.Join(dir, e.Name()),
				name: "stage " + strings.TrimPrefix(e.Name(), extraSBOMPrefix),
				file: e.Name() + ".spdx.json",
			})
		}
	}
	return out, nil
}

func writeSPDX(path string, doc *sbom.SBOM, opts sbom.EncodeOptions) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write SBOM: %w", err)
	}
	if err := spdxjson.Write(doc.SPDX(opts), f); err != nil {
		f.Close()
		return fmt.Errorf("write SBOM %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write SBOM %s: %w", path, err)
	}
	return nil
}

func writeFile(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
