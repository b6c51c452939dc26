package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/test/bench/osvgen/corpus"
	"github.com/secure-build/secure-build/vuln"
)

// runSBOMScan matches the language packages of the benchmark's SBOM of
// 1,000 packages (the one vuln/bench_test.go matches) with our database and
// writes our JSON report, and writes the same packages as a CycloneDX file
// osv-scanner can scan ("scan source -L FILE.cdx.json"): a check of the
// matchers of npm, PyPI, Go and Maven against the synthetic records. Debian
// packages are left out: osv-scanner does not read an SBOM's source package.
func runSBOMScan(args []string) error {
	fs := flag.NewFlagSet("sbomscan", flag.ExitOnError)
	corpusDir := fs.String("corpus", "", "corpus folder (its manifest.json makes the SBOM)")
	dbDir := fs.String("db", "", "database folder with the corpus imported")
	cdxOut := fs.String("cdx", "", "CycloneDX file to write (name it *.cdx.json)")
	oursOut := fs.String("ours", "", "our JSON report to write")
	fs.Parse(args)
	if *corpusDir == "" || *dbDir == "" || *cdxOut == "" || *oursOut == "" {
		return fmt.Errorf("-corpus, -db, -cdx and -ours are required")
	}
	m, err := corpus.ReadManifest(*corpusDir)
	if err != nil {
		return err
	}
	type component struct {
		Type    string `json:"type"`
		BOMRef  string `json:"bom-ref"`
		Name    string `json:"name"`
		Version string `json:"version"`
		PURL    string `json:"purl"`
	}
	var comps []component
	var pkgs []sbom.Package
	for _, p := range corpus.SBOM(m.Options, 1000) {
		if p.Type == "deb" {
			continue
		}
		comps = append(comps, component{Type: "library", BOMRef: p.PURL, Name: p.Name, Version: p.Version, PURL: p.PURL})
		pkgs = append(pkgs, sbom.Package{Name: p.Name, Version: p.Version, Type: p.Type, PURL: p.PURL, Locations: []string{"/sbom"}})
	}
	bom := map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": comps}
	data, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*cdxOut, data, 0o644); err != nil {
		return err
	}
	db, err := vuln.Open(*dbDir)
	if err != nil {
		return err
	}
	defer db.Close()
	findings, warnings, err := db.Match(pkgs)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	f, err := os.Create(*oursOut)
	if err != nil {
		return err
	}
	defer f.Close()
	scan := &report.Scan{Target: *cdxOut, SBOM: &sbom.SBOM{Source: *cdxOut, Packages: pkgs}, Findings: findings, ScannedAt: time.Now()}
	if err := report.Write(f, "json", scan); err != nil {
		return err
	}
	fmt.Printf("sbomscan: %d language packages, %d findings\n", len(pkgs), len(findings))
	return f.Close()
}
