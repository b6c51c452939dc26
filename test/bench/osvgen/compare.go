package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/secure-build/secure-build/test/bench/osvgen/corpus"
)

// finding is one (package, vulnerability) pair as a scanner reported it.
type finding struct {
	binary, source, version string
	ids                     []string // own id first, then aliases
}

// ours reads "docker-secure scan --format json".
func readOurs(path string) ([]finding, int, error) {
	var doc struct {
		Findings []struct {
			ID      string   `json:"id"`
			Aliases []string `json:"aliases"`
			Package struct {
				Name         string `json:"name"`
				Version      string `json:"version"`
				MatchName    string `json:"matchName"`
				MatchVersion string `json:"matchVersion"`
			} `json:"package"`
		} `json:"findings"`
	}
	if err := readJSONFile(path, &doc); err != nil {
		return nil, 0, err
	}
	var out []finding
	for _, f := range doc.Findings {
		out = append(out, finding{binary: f.Package.Name, source: f.Package.MatchName, version: f.Package.MatchVersion,
			ids: append([]string{f.ID}, f.Aliases...)})
	}
	return out, len(doc.Findings), nil
}

// readOSV reads "osv-scanner --format json": one finding per package and
// vulnerability record; groups counts osv-scanner's folded groups.
func readOSV(path string) ([]finding, int, error) {
	var doc struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name          string `json:"name"`
					OSPackageName string `json:"os_package_name"`
					Version       string `json:"version"`
				} `json:"package"`
				Vulnerabilities []struct {
					ID      string   `json:"id"`
					Aliases []string `json:"aliases"`
				} `json:"vulnerabilities"`
				Groups []json.RawMessage `json:"groups"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := readJSONFile(path, &doc); err != nil {
		return nil, 0, err
	}
	var out []finding
	groups := 0
	for _, r := range doc.Results {
		for _, p := range r.Packages {
			bin := p.Package.OSPackageName
			if bin == "" {
				bin = p.Package.Name
			}
			groups += len(p.Groups)
			for _, v := range p.Vulnerabilities {
				out = append(out, finding{binary: bin, source: p.Package.Name, version: p.Package.Version,
					ids: append([]string{v.ID}, v.Aliases...)})
			}
		}
	}
	return out, groups, nil
}

func readJSONFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// aliasSets folds ids that name each other (a record and its aliases).
type aliasSets map[string]string

func (a aliasSets) find(id string) string {
	for {
		p, ok := a[id]
		if !ok || p == id {
			return id
		}
		id = p
	}
}

func (a aliasSets) union(ids []string) {
	if len(ids) == 0 {
		return
	}
	root := a.find(ids[0])
	for _, id := range ids[1:] {
		r := a.find(id)
		if r == root {
			continue
		}
		if r < root { // the smallest id names the set: stable output
			a[root] = r
			root = r
		} else {
			a[r] = root
		}
	}
	if _, ok := a[root]; !ok {
		a[root] = root
	}
}

func runCompare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	oursPath := fs.String("ours", "", "docker-secure scan --format json output")
	osvPath := fs.String("osv", "", "osv-scanner --format json output")
	expectedPath := fs.String("expected", "", "expected.json written by osvgen corpus (optional)")
	fs.Parse(args)
	ours, ourCount, err := readOurs(*oursPath)
	if err != nil {
		return err
	}
	osv, osvGroups, err := readOSV(*osvPath)
	if err != nil {
		return err
	}
	var expected []corpus.Expected
	if *expectedPath != "" {
		if err := readJSONFile(*expectedPath, &expected); err != nil {
			return err
		}
	}
	sets := aliasSets{}
	for _, f := range append(append([]finding(nil), ours...), osv...) {
		sets.union(f.ids)
	}
	type key struct{ pkg, vuln string }
	collect := func(fs []finding, binary bool) map[key]finding {
		out := map[key]finding{}
		for _, f := range fs {
			pkg := f.source
			if binary {
				pkg = f.binary
			}
			out[key{normName(pkg), sets.find(f.ids[0])}] = f
		}
		return out
	}
	byCase := map[string]corpus.Expected{}
	for _, e := range expected {
		byCase[e.Package+"\x00"+e.ID] = e
	}
	explain := func(f finding) string {
		for _, id := range f.ids {
			if e, ok := byCase[f.source+"\x00"+id]; ok {
				verdict := "must not match"
				if e.Affected {
					verdict = "must match"
				}
				return fmt.Sprintf("case %s, %s source %s %s", e.Case, verdict, e.Package, e.Version)
			}
		}
		return "synthetic record"
	}

	oursBin, osvBin := collect(ours, true), collect(osv, true)
	fmt.Printf("findings: docker-secure %d (%d package+vulnerability pairs); osv-scanner %d records in %d groups (%d pairs)\n",
		ourCount, len(oursBin), len(osv), osvGroups, len(osvBin))
	var onlyOurs, onlyOSV []string
	for k, f := range oursBin {
		if _, ok := osvBin[k]; !ok {
			onlyOurs = append(onlyOurs, fmt.Sprintf("  %-22s %-28s binary %s, matched as %s %s (%s)", k.pkg, strings.Join(f.ids, ","), f.binary, f.source, f.version, explain(f)))
		}
	}
	for k, f := range osvBin {
		if _, ok := oursBin[k]; !ok {
			onlyOSV = append(onlyOSV, fmt.Sprintf("  %-22s %-28s binary %s %s, source %s (%s)", k.pkg, strings.Join(f.ids, ","), f.binary, f.version, f.source, explain(f)))
		}
	}
	sort.Strings(onlyOurs)
	sort.Strings(onlyOSV)
	same := len(onlyOurs) == 0 && len(onlyOSV) == 0
	fmt.Printf("same set (binary package + vulnerability, aliases folded): %s\n", yesNo(same))
	if !same {
		fmt.Printf("only docker-secure reports (%d):\n", len(onlyOurs))
		for _, l := range onlyOurs {
			fmt.Println(l)
		}
		fmt.Printf("only osv-scanner reports (%d):\n", len(onlyOSV))
		for _, l := range onlyOSV {
			fmt.Println(l)
		}
	}

	if len(expected) > 0 {
		// Source-package level against what the generator says must match.
		want := map[key]corpus.Expected{}
		for _, e := range expected {
			if e.Affected {
				want[key{normName(e.Package), sets.find(e.ID)}] = e
			}
		}
		realSources := map[string]bool{}
		for _, e := range expected {
			realSources[normName(e.Package)] = true
		}
		check := func(name string, got map[key]finding) {
			var missing, extra []string
			for k, e := range want {
				if _, ok := got[k]; !ok {
					missing = append(missing, fmt.Sprintf("    missing %s %s (case %s, installed %s)", k.pkg, e.ID, e.Case, e.Version))
				}
			}
			for k, f := range got {
				if _, ok := want[k]; !ok && realSources[k.pkg] {
					extra = append(extra, fmt.Sprintf("    extra   %s %s (%s)", k.pkg, strings.Join(f.ids, ","), explain(f)))
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			ok := len(missing) == 0 && len(extra) == 0
			fmt.Printf("%s vs expected (%d source package + record pairs must match): %s\n", name, len(want), yesNo(ok))
			for _, l := range append(missing, extra...) {
				fmt.Println(l)
			}
		}
		check("docker-secure", collect(ours, false))
		check("osv-scanner  ", collect(osv, false))
	}
	return nil
}

// normName keys a package name: lowercased, "_" and "." as "-", as PEP 503
// normalizes PyPI names (so "Flask_Foo" and "flask-foo" are one package),
// applied to every ecosystem alike.
func normName(name string) string {
	return strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
