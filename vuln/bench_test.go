package vuln_test

// Benchmarks of the OSV database against a synthetic corpus of 100,000+
// records (test/bench/osvgen/corpus): import speed and index size, and the
// time to match an SBOM of 1,000 packages, warm and cold.
//
//	go test -run '^$' -bench . -benchtime 1x ./vuln        (one of each)
//	go test -run '^$' -bench Match1000Warm ./vuln
//
// The corpus is generated on first use into $TMPDIR/secure-build-osv-bench-*
// and reused; OSV_BENCH_CORPUS names a folder written by "osvgen corpus"
// instead, and OSV_BENCH_DB an already imported database of it (as
// test/bench/scan.sh does, so a cold run can follow a page-cache drop).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/test/bench/osvgen/corpus"
	"github.com/secure-build/secure-build/vuln"
)

var bench struct {
	corpusOnce sync.Once
	corpusDir  string
	manifest   *corpus.Manifest
	corpusErr  error

	dbOnce sync.Once
	dbDir  string
	dbErr  error
}

// benchCorpus returns the folder of the corpus's <Ecosystem>/all.zip files
// and what made it.
func benchCorpus(b *testing.B) (string, *corpus.Manifest) {
	b.Helper()
	bench.corpusOnce.Do(func() {
		if dir := os.Getenv("OSV_BENCH_CORPUS"); dir != "" {
			bench.corpusDir = dir
			bench.manifest, bench.corpusErr = corpus.ReadManifest(dir)
			return
		}
		opt := corpus.DefaultOptions()
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("secure-build-osv-bench-%s-seed%d-%d", corpus.Version, opt.Seed, opt.Records))
		bench.corpusDir = dir
		if m, err := corpus.ReadManifest(dir); err == nil {
			bench.manifest = m
			return
		}
		start := time.Now()
		bench.manifest, bench.corpusErr = corpus.Generate(dir, opt)
		if bench.corpusErr == nil {
			fmt.Fprintf(os.Stderr, "generated %d OSV records in %s (%s)\n", bench.manifest.Total, dir, time.Since(start).Round(time.Second))
		}
	})
	if bench.corpusErr != nil {
		b.Fatalf("OSV corpus: %v", bench.corpusErr)
	}
	return bench.corpusDir, bench.manifest
}

func corpusSources(dir string) []vuln.Source {
	var out []vuln.Source
	for _, z := range corpus.Zips(dir) {
		out = append(out, vuln.Source{Path: z})
	}
	return out
}

// benchDB returns a database folder holding the corpus.
func benchDB(b *testing.B) string {
	b.Helper()
	dir, _ := benchCorpus(b)
	bench.dbOnce.Do(func() {
		if d := os.Getenv("OSV_BENCH_DB"); d != "" {
			bench.dbDir = d
			return
		}
		bench.dbDir = filepath.Join(dir, "db")
		if _, err := os.Stat(filepath.Join(bench.dbDir, "Debian.db")); err == nil {
			return
		}
		_, bench.dbErr = vuln.Import(context.Background(), bench.dbDir, corpusSources(dir))
	})
	if bench.dbErr != nil {
		b.Fatalf("import the OSV corpus: %v", bench.dbErr)
	}
	return bench.dbDir
}

// sbom1000 is the SBOM matched: 1,000 packages of five ecosystems, about a
// third of them with records in the corpus.
func sbom1000(m *corpus.Manifest) ([]sbom.Package, int) {
	var out []sbom.Package
	with := 0
	for _, p := range corpus.SBOM(m.Options, 1000) {
		out = append(out, sbom.Package{
			Name: p.Name, Version: p.Version, Type: p.Type, PURL: p.PURL,
			SourceName: p.SourceName, SourceVersion: p.SourceVersion,
			Locations: []string{"/usr/lib/somewhere/" + p.Name},
		})
		if p.HasRecords {
			with++
		}
	}
	return out, with
}

func dirSize(b *testing.B, dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// BenchmarkImport imports every archive of the corpus into a fresh folder.
func BenchmarkImport(b *testing.B) {
	dir, m := benchCorpus(b)
	sources := corpusSources(dir)
	var size int64
	var kept int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db, err := os.MkdirTemp("", "secure-build-bench-db-")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := vuln.Import(context.Background(), db, sources)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		size = dirSize(b, db)
		kept = 0
		for _, s := range st {
			kept += s.Records
		}
		os.RemoveAll(db)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(m.Total)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(size)/(1<<20), "index-MB")
	b.ReportMetric(float64(m.Total), "records-read")
	b.ReportMetric(float64(kept), "records-kept")
}

func reportMatch(b *testing.B, findings []vuln.Finding, with int) {
	matched := map[string]bool{}
	for _, f := range findings {
		matched[f.Package.PURL] = true
	}
	b.ReportMetric(float64(len(findings)), "findings")
	b.ReportMetric(float64(len(matched)), "pkgs-affected")
	b.ReportMetric(float64(with), "pkgs-with-records")
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/match")
}

// BenchmarkMatch1000Warm matches 1,000 packages against an open database.
func BenchmarkMatch1000Warm(b *testing.B) {
	dir := benchDB(b)
	_, m := benchCorpus(b)
	pkgs, with := sbom1000(m)
	db, err := vuln.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	_, warnings, err := db.Match(pkgs) // fault the pages in once
	if err != nil {
		b.Fatal(err)
	}
	if len(warnings) > 0 {
		b.Fatalf("%d warnings matching the SBOM, first: %s", len(warnings), warnings[0])
	}
	var findings []vuln.Finding
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if findings, _, err = db.Match(pkgs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportMatch(b, findings, with)
}

// BenchmarkMatch1000Cold opens the database afresh for every match, as a
// scan does. With the page cache dropped before a -benchtime 1x run (see
// test/bench/scan.sh) it is a cold start from disk.
func BenchmarkMatch1000Cold(b *testing.B) {
	dir := benchDB(b)
	_, m := benchCorpus(b)
	pkgs, with := sbom1000(m)
	var findings []vuln.Finding
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db, err := vuln.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if findings, _, err = db.Match(pkgs); err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.StopTimer()
	reportMatch(b, findings, with)
}

// BenchmarkMatchHeaviest matches only the package with the most records
// (linux-libc-dev, from the source package "linux", thousands of records as
// in real Debian data), to show what one such package costs.
func BenchmarkMatchHeaviest(b *testing.B) {
	dir := benchDB(b)
	_, m := benchCorpus(b)
	pkgs, _ := sbom1000(m)
	var heavy []sbom.Package
	for _, p := range pkgs {
		if p.SourceName == "linux" {
			heavy = append(heavy, p)
		}
	}
	db, err := vuln.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var findings []vuln.Finding
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if findings, _, err = db.Match(heavy); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportMatch(b, findings, len(heavy))
}
