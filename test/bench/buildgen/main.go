// Command buildgen writes the installed npm packages of test/bench/build.sh's
// project: OUT/node_modules/<name>/ with a package.json (name, version,
// license) and a few small files, as npm leaves them.
//
//	buildgen -out DIR [-npm 900] [-files 4] [-seed 1] [-records 100000]
//
// Most names and versions come from the synthetic npm universe of
// test/bench/osvgen (same -seed and -records as its corpus), so about a
// third of them have records in a database imported from that corpus and
// the scan matches them for real; a few real packages (minimist 1.2.6 and
// its like, none affected by vuln/testdata/osv) come on top. The same flags
// write the same files.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/secure-build/secure-build/test/bench/osvgen/corpus"
)

// realPackages are real npm names and versions, none of them affected by
// the records of vuln/testdata/osv/npm (minimist is fixed in 1.2.6).
var realPackages = []pkg{
	{"minimist", "1.2.6", "MIT"},
	{"lodash", "4.17.21", "MIT"},
	{"express", "4.21.2", "MIT"},
	{"debug", "2.6.9", "MIT"},
	{"ms", "2.0.0", "MIT"},
	{"semver", "7.6.3", "ISC"},
}

var licenses = []string{"MIT", "MIT", "MIT", "ISC", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause"}

type pkg struct {
	name, version, license string
}

func main() {
	def := corpus.DefaultOptions()
	out := flag.String("out", "", "project folder; node_modules is written in it and must not exist")
	n := flag.Int("npm", 900, "packages taken from the osvgen npm universe (the real ones come on top)")
	files := flag.Int("files", 4, "files a package: package.json, then index.js, README.md, lib/*.js")
	seed := flag.Uint64("seed", def.Seed, "osvgen corpus seed")
	records := flag.Int("records", def.Records, "osvgen corpus records")
	flag.Parse()
	if *out == "" || *n < 0 || *files < 1 {
		fmt.Fprintln(os.Stderr, "usage: buildgen -out DIR [-npm N] [-files N] [-seed S] [-records N]")
		os.Exit(2)
	}
	pkgs, withRecords, err := choose(corpus.Options{Seed: *seed, Records: *records}, *n)
	if err == nil {
		err = write(filepath.Join(*out, "node_modules"), pkgs, *files)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "buildgen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("node_modules: %d packages (%d from the osvgen universe, %d of them with records; %d real), %d files each\n",
		len(pkgs), *n, withRecords, len(realPackages), *files)
}

// choose takes the first n npm packages of an osvgen benchmark SBOM (about
// 30% of it is npm), then the real ones.
func choose(opt corpus.Options, n int) ([]pkg, int, error) {
	var out []pkg
	seen := map[string]bool{}
	for _, r := range realPackages {
		seen[r.name] = true
	}
	withRecords := 0
	for _, p := range corpus.SBOM(opt, n*4+10) {
		if len(out) == n {
			break
		}
		if p.Type != "npm" || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		out = append(out, pkg{p.Name, p.Version, licenses[len(out)%len(licenses)]})
		if p.HasRecords {
			withRecords++
		}
	}
	if len(out) < n {
		return nil, 0, fmt.Errorf("the osvgen universe gave %d distinct npm packages, want %d", len(out), n)
	}
	return append(out, realPackages...), withRecords, nil
}

func write(dir string, pkgs []pkg, files int) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists", dir)
	}
	for _, p := range pkgs {
		pdir := filepath.Join(dir, filepath.FromSlash(p.name))
		manifest, err := json.MarshalIndent(map[string]any{
			"name":        p.name,
			"version":     p.version,
			"license":     p.license,
			"description": "secure-build benchmark fixture",
			"main":        "index.js",
		}, "", "  ")
		if err != nil {
			return err
		}
		contents := map[string]string{"package.json": string(manifest) + "\n"}
		for i := 1; i < files; i++ {
			switch i {
			case 1:
				contents["index.js"] = "'use strict';\nmodule.exports = { generated: true };\n"
			case 2:
				contents["README.md"] = fmt.Sprintf("# %s\n\nVersion %s of a generated package.\n", p.name, p.version)
			default:
				contents[fmt.Sprintf("lib/part%d.js", i-2)] = fmt.Sprintf("'use strict';\nmodule.exports = { name: %q, part: %d };\n%s\n",
					p.name, i-2, strings.Repeat("// padding\n", 20))
			}
		}
		for name, body := range contents {
			path := filepath.Join(pdir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
