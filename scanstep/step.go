// Package scanstep is the scan step: the process a build runs, in a
// container of its own, over the final stage's root. It catalogs the root,
// matches it against the database and writes the SBOMs and a result; the
// build function decides the verdict from what it writes. It is a binary of
// its own (cmd/secure-build-scan), so that a cold builder is sent and
// starts only this, not the whole plugin.
package scanstep

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
	spdxjson "github.com/spdx/tools-golang/json"
	"golang.org/x/sync/errgroup"
)

// Command is the first argument that makes a secure-build binary run the
// scan step.
const Command = "scan-step"

// Paths inside the scan step's container.
const (
	SourceDir = "/run/src/core/sbom"
	ExtrasDir = "/run/src/extras"
	DBDir     = "/run/db"
	OutDir    = "/run/out"
	// ChainDir holds the states the final stage went through, one folder
	// each, named by index: 00 the base, then each instruction's.
	ChainDir = "/run/chain"
)

// Files the scan step writes into its output folder.
const (
	SBOMFile   = "sbom.spdx.json"
	ResultFile = "scan.json"
	// An extra stage's SBOM is sbom-<stage>.spdx.json, the name BuildKit's
	// generators give extras.
	ExtraSBOMPrefix = "sbom-"
)

// ResultFormat is the version of scan.json's shape; 2 added Incomplete,
// 3 Origins.
const ResultFormat = 3

// Result is what the scan step found, written as scan.json. It holds no
// verdict: the build function decides on every build, so a cached step
// still sees today's policy and database age.
type Result struct {
	// Format is ResultFormat: a scanner of another version writes another
	// shape (an older one no incompleteness), which must not read as a
	// complete scan.
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
	// each instruction's, the final stage. Origins are those of the
	// packages with findings, and hold indices only: the
	// frontend names the lines on every build, so a cached step still
	// points at today's Dockerfile lines.
	States    int                  `json:"states,omitempty"`
	Origins   []origin.StateOrigin `json:"origins,omitempty"`
	StartedAt time.Time            `json:"startedAt"`
	EndedAt   time.Time            `json:"endedAt"`
}

// Run is the scan step's process: flags name the folders (the defaults are
// where the build function mounts them), it catalogs the stage's root,
// matches it against the database and writes the SBOMs and scan.json.
func Run(ctx context.Context, args []string, toolVersion string) error {
	fs := flag.NewFlagSet(Command, flag.ContinueOnError)
	source := fs.String("source", SourceDir, "root filesystem of the final stage")
	extras := fs.String("extras", ExtrasDir, "folder of other stages' roots, one folder each")
	dbDir := fs.String("db", DBDir, "vulnerability database folder")
	out := fs.String("out", OutDir, "output folder")
	chain := fs.String("chain", ChainDir, "folder of the states the final stage went through, 00 the base")
	states := fs.Int("states", 0, "how many states the final stage went through, itself included; 0 attributes nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	started := time.Now().UTC()
	// The database archives the root's packages are looked up in are
	// expanded while the root is cataloged, as its packages are found.
	db, err := openDatabase(*dbDir)
	if err != nil {
		return err
	}
	defer db.close()

	created, err := sbom.CreatedTime()
	if err != nil {
		return err
	}
	encode := sbom.EncodeOptions{Created: created, ToolVersion: toolVersion}
	doc, err := sbom.CatalogFound(ctx, *source, "final stage", db.expander.Need)
	if err != nil {
		return err
	}
	// The SBOM is written while the catalog is matched: both only read it.
	var writing errgroup.Group
	writing.Go(func() error { return writeSPDX(filepath.Join(*out, SBOMFile), doc, encode) })
	// No return leaves it writing (Wait again returns the same).
	defer writing.Wait()
	if db.db, err = db.expander.Open(doc.Packages); err != nil {
		return err
	}
	findings, gaps, err := db.db.Match(doc.Packages)
	if err != nil {
		return fmt.Errorf("match the packages of %s: %w", doc.Source, err)
	}
	var origins []origin.StateOrigin
	if *states > 0 && len(findings) > 0 {
		if origins, err = trace(ctx, *chain, *states, *source, doc, findings); err != nil {
			return err
		}
	}
	if err := writing.Wait(); err != nil {
		return err
	}
	stages, err := ExtraStages(*extras)
	if err != nil {
		return err
	}
	for _, st := range stages {
		extra, err := sbom.Catalog(ctx, st.Root, st.Name)
		if err != nil {
			return err
		}
		if err := writeSPDX(filepath.Join(*out, st.File), extra, encode); err != nil {
			return err
		}
	}
	res := Result{
		States:     *states,
		Origins:    origins,
		Format:     ResultFormat,
		Findings:   findings,
		Updated:    db.db.Updated(),
		Incomplete: slices.Concat(doc.Incomplete, gaps),
		Packages:   len(doc.Packages),
		Distro:     doc.Distro,
		StartedAt:  started,
		EndedAt:    time.Now().UTC(),
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode scan result: %w", err)
	}
	return WriteFile(filepath.Join(*out, ResultFile), b)
}

// database is the step's database: its compressed archives expand into a
// folder of the step's /tmp as the catalog needs them.
type database struct {
	expander *vuln.Expander
	db       *vuln.DB
	tmp      string
}

func openDatabase(dir string) (*database, error) {
	tmp, err := os.MkdirTemp("", "secure-build-db-")
	if err != nil {
		return nil, fmt.Errorf("expand the vulnerability database: %w", err)
	}
	e, err := vuln.NewExpander(dir, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &database{expander: e, tmp: tmp}, nil
}

// close closes the database and removes its expanded files.
func (d *database) close() {
	d.expander.Wait()
	if d.db != nil {
		d.db.Close()
	}
	os.RemoveAll(d.tmp)
}

// trace follows the packages that have findings back through the states
// of the final stage: only findings are attributed, and a few hundred
// files stat'ed in each state cost less than the whole catalog's.
func trace(ctx context.Context, chain string, states int, final string, doc *sbom.SBOM, findings []vuln.Finding) ([]origin.StateOrigin, error) {
	roots, err := chainRoots(chain, states, final)
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, f := range findings {
		found[f.Package.PURL] = true
	}
	affected := *doc
	affected.Packages = slices.DeleteFunc(slices.Clone(doc.Packages), func(p sbom.Package) bool { return !found[p.PURL] })
	return origin.Trace(ctx, roots, &affected)
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

// ExtraStage is another stage's root the step or a generator is given.
type ExtraStage struct {
	Root string // its folder
	Name string // "stage build", the SBOM's name
	File string // sbom-build.spdx.json, the SBOM's file
}

// ExtraStages lists the folders under dir, each a stage's root mounted as
// sbom-<stage> (the name BuildKit gives extras); no dir is no extras.
func ExtraStages(dir string) ([]ExtraStage, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read extra stages %s: %w", dir, err)
	}
	var out []ExtraStage
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, ExtraStage{
				Root: filepath.Join(dir, e.Name()),
				Name: "stage " + strings.TrimPrefix(e.Name(), ExtraSBOMPrefix),
				File: e.Name() + ".spdx.json",
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

// WriteFile writes b to path, the error naming it.
func WriteFile(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
