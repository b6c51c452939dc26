// Package layering holds no code: its test keeps the house's import rules,
// so that a convenient import across the data flow fails here, not in review.
package layering

import (
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/secure-build/secure-build"

// flow is the order data takes through the scanning packages: each may
// import those before it, never one after it.
var flow = []string{"sbom", "origin", "vuln", "policy", "report"}

// importers names, for a package, the only packages that may import it.
var importers = map[string][]string{
	"plugin":   {"cmd/docker-secure"},
	"frontend": {"plugin", "cmd/docker-secure", "cmd/secure-build-frontend"},
	// baseimage asks registries and scans candidates: advice for the
	// commands and the build, never something the pipeline depends on.
	"baseimage": {"plugin", "frontend"},
	// The frontend never holds keys: signing is the job step after the build.
	"sign":     {"plugin"},
	"scanstep": {"frontend", "cmd/docker-secure", "cmd/secure-build-frontend", "cmd/secure-build-scan"},
}

// forbidden names what a package may not import at all, project package or
// not, and why.
var forbidden = map[string]map[string]string{
	"sbom": {
		"github.com/google/go-containerregistry/pkg/v1/remote": "sbom catalogs a v1.Image; registry/ reaches registries",
	},
	"registry": {
		module + "/": "registry is infrastructure: it imports no package of the project",
	},
	"sign": {
		"github.com/google/go-containerregistry/pkg/v1/remote": "sign publishes and reads through registry/, which owns credentials and errors",
	},
}

// imports lists every package of the module with what it imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list %s/...: %v", module, err)
	}
	pkgs := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkgs[strings.TrimPrefix(fields[0], module+"/")] = fields[1:]
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	pkgs := imports(t)
	if _, ok := pkgs["sbom"]; !ok {
		t.Fatalf("go list found no sbom package among %d: wrong module?", len(pkgs))
	}
	for pkg, deps := range pkgs {
		for _, dep := range deps {
			local, ok := strings.CutPrefix(dep, module+"/")
			if ok {
				if allowed, ruled := importers[local]; ruled && !slices.ContainsFunc(allowed, func(a string) bool { return pkg == a }) {
					t.Errorf("%s imports %s, which only %v may import", pkg, local, allowed)
				}
				if i, j := slices.Index(flow, pkg), slices.Index(flow, local); i >= 0 && j > i {
					t.Errorf("%s imports %s, which comes after it in the data flow %v", pkg, local, flow)
				}
				if (pkg == "sbom" || pkg == "vuln") && slices.Contains([]string{"policy", "report", "frontend", "plugin", "scan", "attest"}, topLevel(local)) {
					t.Errorf("%s imports %s: the catalog and the matcher know nothing of verdicts, reports or builds", pkg, local)
				}
			}
			for prefix, why := range forbidden[pkg] {
				if dep == prefix || (strings.HasSuffix(prefix, "/") && strings.HasPrefix(dep, prefix)) {
					t.Errorf("%s imports %s: %s", pkg, dep, why)
				}
			}
		}
	}
}

// topLevel is the first element of a package path inside the module.
func topLevel(local string) string {
	for path.Dir(local) != "." {
		local = path.Dir(local)
	}
	return local
}

// TestScanStepLinksLittle: the scan step binary is what a cold builder is
// sent, unpacks and starts on every build, so whatever it links costs
// there. It catalogs, matches and writes; verdicts, reports, builds and
// registries are for the other binaries.
func TestScanStepLinksLittle(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/cmd/secure-build-scan").Output()
	if err != nil {
		t.Fatalf("go list -deps %s/cmd/secure-build-scan: %v", module, err)
	}
	heavy := []string{module + "/policy", module + "/report", module + "/scan", module + "/frontend", module + "/plugin",
		module + "/registry", "github.com/moby/buildkit/", "github.com/docker/", "github.com/google/go-containerregistry/pkg/v1/remote"}
	for dep := range strings.Lines(string(out)) {
		dep = strings.TrimSpace(dep)
		for _, h := range heavy {
			if dep == h || strings.HasPrefix(dep, strings.TrimSuffix(h, "/")+"/") {
				t.Errorf("the scan step links %s", dep)
			}
		}
	}
}
