package test

import (
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/secure-build/secure-build/internal/testutil"
)

// TestDpkgQueryAgreement: on a debootstrap root, the SPDX SBOM lists exactly
// the packages dpkg itself lists, with the same versions and source packages.
func TestDpkgQueryAgreement(t *testing.T) {
	t.Parallel()
	root := testutil.DebianRoot(t)
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		testutil.RequireE2E(t, "dpkg-query is not installed")
	}
	want := dpkgQuery(t, root)
	if len(want) < 50 {
		t.Fatalf("dpkg-query lists only %d packages in %s: not a debootstrap root?", len(want), root)
	}

	res := runCmd(t, []string{"SOURCE_DATE_EPOCH=0"}, binary, "sbom", "--format", "spdx-json", root)
	if res.Code != 0 {
		t.Fatalf("docker-secure sbom exited %d: %s", res.Code, res.Stderr)
	}
	doc, err := spdxjson.Read(strings.NewReader(res.Stdout))
	if err != nil {
		t.Fatalf("read SPDX output: %v", err)
	}
	var got []string
	for _, p := range doc.Packages {
		if p.PackageSPDXIdentifier == "Root" || p.PackageSPDXIdentifier == "OperatingSystem" {
			continue // the root filesystem and the distribution, pkg:generic
		}
		for _, ref := range p.PackageExternalReferences {
			if ref.RefType != "purl" {
				continue
			}
			purl, err := packageurl.FromString(ref.Locator)
			if err != nil {
				t.Fatalf("package %s: bad purl %q: %v", p.PackageName, ref.Locator, err)
			}
			if purl.Type != "deb" {
				t.Errorf("package %s: purl type %q in a Debian minbase root", p.PackageName, purl.Type)
				continue
			}
			if purl.Name != p.PackageName || purl.Version != p.PackageVersion {
				t.Errorf("package %s %s: purl %s disagrees", p.PackageName, p.PackageVersion, ref.Locator)
			}
			if d := purl.Qualifiers.Map()["distro"]; d != "debian-12" {
				t.Errorf("package %s: distro qualifier %q, want debian-12", p.PackageName, d)
			}
			srcName, srcVersion, _ := strings.Cut(purl.Qualifiers.Map()["upstream"], "@")
			got = append(got, strings.Join([]string{p.PackageName, p.PackageVersion, srcName, srcVersion}, " "))
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sbom and dpkg-query disagree\nonly in dpkg-query:\n%s\nonly in sbom:\n%s",
			strings.Join(minus(want, got), "\n"), strings.Join(minus(got, want), "\n"))
	}
}

// dpkgQuery lists "name version source-name source-version" of each
// installed package, as dpkg reads the root's database.
func dpkgQuery(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "--admindir="+root+"/var/lib/dpkg", "-W",
		"-f", "${db:Status-Abbrev}|${Package} ${Version} ${source:Package} ${source:Version}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query on %s: %v", root, err)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		status, row, _ := strings.Cut(line, "|")
		if strings.HasPrefix(status, "ii") {
			rows = append(rows, row)
		}
	}
	sort.Strings(rows)
	return rows
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}
