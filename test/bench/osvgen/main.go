// Command osvgen is the helper of test/bench/scan.sh:
//
//	osvgen corpus  -out DIR [-records N] [-seed S] [-debian-sources FILE]
//	    write DIR/<Ecosystem>/all.zip (synthetic OSV records; with
//	    -debian-sources, "name version" lines of a root's source packages,
//	    also Debian:12 records about them and DIR/expected.json)
//	osvgen image   -layer LAYER.tar -out IMAGE.tar [-tag REF]
//	    write a one-layer docker-archive (docker save format)
//	osvgen compare -ours OURS.json -osv OSV.json [-expected FILE]
//	    compare the findings of "docker-secure scan --format json" and
//	    "osv-scanner --format json", ids folded by aliases
//	osvgen sbomscan -corpus DIR -db DIR -cdx FILE.cdx.json -ours FILE
//	    match the language packages of the benchmark SBOM ourselves, and
//	    write them as CycloneDX for osv-scanner
//	osvgen stages  -db DIR [-cpuprofile FILE] TARGET
//	    time the stages of a scan (open, unpack+catalog, match, report)
//	osvgen median  NUMBER...
//	    print the median
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/secure-build/secure-build/test/bench/osvgen/corpus"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "corpus":
		err = runCorpus(os.Args[2:])
	case "image":
		err = runImage(os.Args[2:])
	case "compare":
		err = runCompare(os.Args[2:])
	case "median":
		err = runMedian(os.Args[2:])
	case "stages":
		err = runStages(os.Args[2:])
	case "sbomscan":
		err = runSBOMScan(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "osvgen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: osvgen corpus|image|compare|sbomscan|stages|median ... (see the package comment)")
	os.Exit(2)
}

func runCorpus(args []string) error {
	fs := flag.NewFlagSet("corpus", flag.ExitOnError)
	def := corpus.DefaultOptions()
	out := fs.String("out", "", "output folder")
	records := fs.Int("records", def.Records, "synthetic records, all ecosystems")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	sources := fs.String("debian-sources", "", `file of "name version" lines (dpkg-query ${source:Package} ${source:Version})`)
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	opt := corpus.Options{Seed: *seed, Records: *records}
	if *sources != "" {
		var err error
		if opt.Debian, err = readSources(*sources); err != nil {
			return err
		}
	}
	start := time.Now()
	m, err := corpus.Generate(*out, opt)
	if err != nil {
		return err
	}
	var zipBytes int64
	for _, b := range m.ZipBytes {
		zipBytes += b
	}
	affected := 0
	for _, e := range m.Expected {
		if e.Affected {
			affected++
		}
	}
	fmt.Printf("corpus: %d records (%s), %.1f MB of JSON, %.1f MB zipped, in %s\n",
		m.Total, perArchive(m.Records), float64(m.JSONBytes)/1e6, float64(zipBytes)/1e6, time.Since(start).Round(time.Millisecond))
	fmt.Printf("corpus: names with records: %s\n", perArchive(m.Packages))
	if len(opt.Debian) > 0 {
		fmt.Printf("corpus: %d records about the root's %d source packages, %d of them must match\n", m.RealRecords, m.RealPackages, affected)
	}
	return nil
}

func perArchive(m map[string]int) string {
	var parts []string
	for _, a := range corpus.Archives() {
		parts = append(parts, fmt.Sprintf("%s %d", a, m[a]))
	}
	return strings.Join(parts, ", ")
}

// readSources reads "name version" lines, deduplicated, in order.
func readSources(path string) ([]corpus.SourcePackage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []corpus.SourcePackage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		key := fields[0] + " " + fields[1]
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, corpus.SourcePackage{Name: fields[0], Version: fields[1]})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].Version < out[j].Version
	})
	return out, sc.Err()
}

func runMedian(args []string) error {
	var xs []float64
	for _, a := range args {
		x, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	if len(xs) == 0 {
		return fmt.Errorf("no numbers")
	}
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	fmt.Println(strconv.FormatFloat(m, 'f', -1, 64))
	return nil
}
