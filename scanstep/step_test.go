package scanstep

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

// testDB imports the npm records of vuln's testdata into a fresh database.
func testDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := vuln.Import(context.Background(), dir, []vuln.Source{{Path: "../vuln/testdata/osv/npm"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs the step with args, writing into out, and reads its scan.json.
func run(t *testing.T, out string, args ...string) Result {
	t.Helper()
	if err := Run(context.Background(), append(args, "-out", out), "test"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRun(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	src, extras, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{
		"app/node_modules/minimist/package.json": `{"name":"minimist","version":"1.2.5","license":"MIT"}`,
		"app/node_modules/listed/package.json":   `{"name":"listed","version":"2.0.1"}`,
	})
	writeFiles(t, extras, map[string]string{
		"sbom-build/src/node_modules/minimist/package.json": `{"name":"minimist","version":"1.2.6"}`,
	})
	res := run(t, out, "-source", src, "-extras", extras, "-db", testDB(t))
	if res.Packages != 2 || len(res.Updated) != 1 || res.Updated["npm"].IsZero() {
		t.Errorf("packages %d, database %v; want 2 packages and the npm archive", res.Packages, res.Updated)
	}
	ids := map[string]string{}
	for _, f := range res.Findings {
		ids[f.ID] = f.Package.Name + " " + f.FixedVersion
	}
	if ids["CVE-2021-44906"] != "minimist 1.2.6" || ids["GHSA-2099-last-aff"] != "listed " {
		t.Errorf("findings %v: want minimist's CVE-2021-44906 fixed in 1.2.6 and listed's unfixed GHSA", ids)
	}

	core, err := sbom.ReadSPDX(filepath.Join(out, SBOMFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(core.Packages) != 2 {
		t.Errorf("core SBOM has %d packages, want 2", len(core.Packages))
	}
	extra, err := sbom.ReadSPDX(filepath.Join(out, "sbom-build.spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(extra.Packages) != 1 || extra.Packages[0].Version != "1.2.6" {
		t.Errorf("extra stage SBOM packages %+v, want minimist 1.2.6", extra.Packages)
	}
}

func TestRunErrors(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	err := Run(context.Background(), []string{"-source", src, "-db", t.TempDir(), "-out", out}, "test")
	if err == nil || !strings.Contains(err.Error(), "docker secure db update") {
		t.Errorf("empty database: got %v, want the error that says how to get one", err)
	}
	err = Run(context.Background(), []string{"-source", filepath.Join(src, "missing"), "-db", testDB(t), "-out", out}, "test")
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing source: got %v, want an error naming it", err)
	}
	if err := Run(context.Background(), []string{"-bogus"}, "test"); err == nil {
		t.Error("an unknown flag was accepted")
	}
}

// TestRunTracesFindings: the step attributes the packages that have
// findings, each to the first state holding it as it is, and no other.
func TestRunTracesFindings(t *testing.T) {
	chain, src, out := t.TempDir(), t.TempDir(), t.TempDir()
	base := filepath.Join(chain, "00")
	writeFiles(t, base, map[string]string{
		"app/node_modules/minimist/package.json": `{"name":"minimist","version":"1.2.5"}`,
	})
	writeFiles(t, src, map[string]string{
		"app/node_modules/minimist/package.json": `{"name":"minimist","version":"1.2.5"}`,
		"app/node_modules/listed/package.json":   `{"name":"listed","version":"2.0.1"}`,
		"app/node_modules/clean/package.json":    `{"name":"clean","version":"1.0.0"}`,
	})
	res := run(t, out, "-source", src, "-chain", chain, "-states", "2", "-extras", "", "-db", testDB(t))
	got := map[string]int{}
	for _, o := range res.Origins {
		got[o.PURL+" "+o.Location] = o.State
	}
	want := map[string]int{
		"pkg:npm/minimist@1.2.5 /app/node_modules/minimist/package.json": 0,
		"pkg:npm/listed@2.0.1 /app/node_modules/listed/package.json":     1,
	}
	if res.States != 2 || !maps.Equal(got, want) {
		t.Errorf("states %d, origins %v; want 2 states and %v", res.States, got, want)
	}
}

// TestRunCompressedDatabase: the step reads a database sent as the build
// sends it, compressed with its index, to the findings the database it was
// made of gives; it reports the update time of every archive, the ones its
// packages needed none of included, and leaves nothing in its /tmp.
func TestRunCompressedDatabase(t *testing.T) {
	plainDir := t.TempDir()
	if _, err := vuln.Import(context.Background(), plainDir, []vuln.Source{
		{Path: "../vuln/testdata/osv/npm"}, {Path: "../vuln/testdata/osv/Go"},
	}); err != nil {
		t.Fatal(err)
	}
	db, err := vuln.Open(plainDir)
	if err != nil {
		t.Fatal(err)
	}
	index, err := vuln.CompressedIndex(db)
	if err != nil {
		t.Fatal(err)
	}
	sent := t.TempDir()
	writeFiles(t, sent, map[string]string{vuln.IndexFile: string(index)})
	for _, a := range db.Archives() {
		data, err := vuln.CompressArchive(filepath.Join(plainDir, a+".db"))
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, sent, map[string]string{vuln.CompressedName(a): string(data)})
	}
	db.Close()

	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"app/node_modules/minimist/package.json": `{"name":"minimist","version":"1.2.5"}`,
	})
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	fromPlain := run(t, t.TempDir(), "-source", src, "-extras", "", "-db", plainDir)
	fromSent := run(t, t.TempDir(), "-source", src, "-extras", "", "-db", sent)
	findingIDs := func(r Result) []string {
		var out []string
		for _, f := range r.Findings {
			out = append(out, f.ID)
		}
		return out
	}
	if got, want := findingIDs(fromSent), findingIDs(fromPlain); len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("compressed database finds %v, the database it was made of %v", got, want)
	}
	if len(fromSent.Updated) != 2 || !fromSent.Updated["Go"].Equal(fromPlain.Updated["Go"]) {
		t.Errorf("update times %v, want both archives' %v", fromSent.Updated, fromPlain.Updated)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("the step left %v in its /tmp", entries)
	}
}
