package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/secure-build/secure-build/scan"

	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/vuln"
)

// runStages does what "docker-secure scan" does, stage by stage, and prints
// how long each took: where an end-to-end scan spends its time.
func runStages(args []string) error {
	fs := flag.NewFlagSet("stages", flag.ExitOnError)
	dbDir := fs.String("db", "", "database folder")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole scan here")
	fs.Parse(args)
	if *dbDir == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: osvgen stages -db DIR [-cpuprofile FILE] TARGET")
	}
	target := fs.Arg(0)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	t0 := time.Now()
	db, err := vuln.Open(*dbDir)
	if err != nil {
		return err
	}
	defer db.Close()
	t1 := time.Now()
	doc, err := scan.Catalog(ctx, target)
	if err != nil {
		return err
	}
	t2 := time.Now()
	findings, _, err := db.Match(doc.Packages)
	if err != nil {
		return err
	}
	t3 := time.Now()
	scan := &report.Scan{Target: target, SBOM: doc, Findings: findings}
	if err := report.Write(io.Discard, "json", scan); err != nil {
		return err
	}
	t4 := time.Now()
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("stages: open db %s, unpack+catalog %s (%d packages), match %s (%d findings), json report %s; total %s\n",
		ms(t1.Sub(t0)), ms(t2.Sub(t1)), len(doc.Packages), ms(t3.Sub(t2)), len(findings), ms(t4.Sub(t3)), ms(t4.Sub(t0)))
	return nil
}
