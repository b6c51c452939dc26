package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// plantedScanner is what an attacker puts in place of the scanner: it scans
// nothing and writes an empty SBOM and a result without findings, so a build
// it runs in passes whatever the image holds.
const plantedScanner = `package main

import (
	"os"
	"time"
)

func main() {
	now := time.Now().UTC().Format(time.RFC3339)
	spdx := ` + "`" + `{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"planted",` +
	`"documentNamespace":"https://example.com/planted","creationInfo":{"created":"` + "`" + ` + now + ` + "`" + `","creators":["Tool: planted"]},"packages":[]}` + "`" + `
	scan := ` + "`" + `{"findings":[],"updated":{"npm":"` + "`" + ` + now + ` + "`" + `"},"packages":0,"startedAt":"` + "`" + ` + now + ` + "`" + `","endedAt":"` + "`" + ` + now + ` + "`" + `"}` + "`" + `
	if os.WriteFile("/run/out/sbom.spdx.json", []byte(spdx), 0o644) != nil || os.WriteFile("/run/out/scan.json", []byte(scan), 0o644) != nil {
		os.Exit(1)
	}
}
`

// TestBuildPlantedScannerIsReplaced: with HOME unset the plugin keeps its
// scanner bundle in a folder of the temporary folder. A binary planted
// there with the size, mode and modification time of the real one is found
// by its content and replaced before the build sends it, so a build with a
// fixable critical still fails by policy and exports nothing.
func TestBuildPlantedScannerIsReplaced(t *testing.T) {
	t.Parallel()
	// A buildkitd of its own: whether the scanner is sent depends on what
	// its daemon was sent before.
	e := newBuildEnvOn(t, ownBuildKit(t))
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
	})
	tmp := t.TempDir()
	scanner, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	planted := plantScanner(t, filepath.Join(tmp, "secure-build-"+strconv.Itoa(os.Getuid())))

	ref := e.reg.Ref("app:1")
	env := append(environWithout("HOME", "XDG_CACHE_HOME", "TMPDIR"), "TMPDIR="+tmp, "BUILDKIT_HOST="+e.bk.Addr)
	build := func() result {
		t.Helper()
		cmd := exec.Command(binary, "build", "--progress", "plain", "--db", e.db, "-t", ref, "--push", dir)
		cmd.Env = env // runCmd would add HOME back
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		return result{Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	}
	r := build()
	if r.Code != 3 {
		t.Errorf("build with a planted scanner and a fixable critical: exit %d, want 3 (policy failure)", r.Code)
	}
	for _, want := range []string{
		"secure-build policy failed for linux/amd64",
		"critical " + fixableCriticalID + " in minimist 1.2.5 -> 1.2.6",
		"nothing was exported",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("output does not say %q:\n%s", want, r.Stderr)
		}
	}
	if e.reg.HasTag(t, "app", "1") {
		t.Error("the build pushed app:1")
	}
	if got, err := os.ReadFile(planted); err != nil || !bytes.Equal(got, scanner) {
		t.Errorf("the planted %s was not replaced by the real scanner (%v)", planted, err)
	}

	// The checked bundle stays as it is, and so does the image made of it:
	// the builder holds its layer, and the next build sends no scanner.
	if !scannerSent(r.Stderr) {
		t.Errorf("the first build does not show the scanner sent:\n%s", r.Stderr)
	}
	again := build()
	if again.Code != 3 {
		t.Errorf("second build: exit %d, want 3 (policy failure)\n%s", again.Code, again.Stderr)
	}
	if scannerSent(again.Stderr) {
		t.Errorf("the second build sent the scanner again:\n%s", again.Stderr)
	}
}

// scannerSent reports whether plain progress shows the scanner's layer sent
// to the builder.
func scannerSent(progress string) bool { return contextSent(progress, "secure-build-scanner") }

// contextSent reports whether plain progress shows the layer of the named
// context name (an image the plugin serves from its session) sent to the
// builder: the blob's transfer in the vertex loading it.
func contextSent(progress, name string) bool {
	sent := regexp.MustCompile(`^sha256:[0-9a-f]{64} \S+ / \S+ .*done$`)
	return slices.ContainsFunc(vertexLines(progress, "[context "+name+"] OCI load from client"), sent.MatchString)
}

// plantScanner builds the planted scanner and puts it where the plugin
// running as binary keeps its bundle under cache, padded to the real
// binary's size and given its mode and modification time; it returns the
// planted file.
func plantScanner(t *testing.T, cache string) string {
	t.Helper()
	exe, err := os.Stat(binary)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(src, []byte(plantedScanner), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(filepath.Dir(src), "planted")
	build := exec.Command("go", "build", "-o", fake, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the planted scanner: %v\n%s", err, out)
	}
	b, err := os.ReadFile(fake)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) > exe.Size() {
		t.Fatalf("the planted scanner (%d bytes) is larger than the real one (%d)", len(b), exe.Size())
	}
	b = append(b, make([]byte, exe.Size()-int64(len(b)))...) // an ELF file may end in anything

	// The bundle's folder is named for the binary's path, size and time
	// (plugin/scanner.go); the test checks at the end that the plugin did
	// look there.
	key := sha256.Sum256([]byte(binary + "\x00" + strconv.FormatInt(exe.Size(), 10) + "\x00" + exe.ModTime().String()))
	planted := filepath.Join(cache, "secure-build", "scanner", hex.EncodeToString(key[:8]), "docker-secure")
	if err := os.MkdirAll(filepath.Dir(planted), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planted, b, exe.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(planted, exe.ModTime(), exe.ModTime()); err != nil {
		t.Fatal(err)
	}
	return planted
}

// environWithout is this process's environment without the named variables.
func environWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			env = append(env, kv)
		}
	}
	return env
}

// TestBuildSendsTheScanStepBinary: a plugin built by scripts/build.sh (as
// make install and the demo build it) sends the builder the scan step binary
// beside it, not itself, and that binary scans: a fixable critical fails the
// build by policy. A scan step binary of another build put beside it is
// refused, said, and the plugin sends itself, which scans the same.
func TestBuildSendsTheScanStepBinary(t *testing.T) {
	t.Parallel()
	e := newBuildEnvOn(t, ownBuildKit(t))
	dir := e.project(t, multiStage, map[string]string{
		"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5"),
	})
	bin := t.TempDir()
	if out, err := exec.Command("../scripts/build.sh", bin, "e2e").CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}
	plugin, step := filepath.Join(bin, "docker-secure"), filepath.Join(bin, "secure-build-scan")
	bundled := func(name string) bool {
		t.Helper()
		found, err := filepath.Glob(filepath.Join(e.cache, "secure-build", "scanner", "*", name))
		if err != nil {
			t.Fatal(err)
		}
		return len(found) > 0
	}
	fails := func(what string, r result) {
		t.Helper()
		if r.Code != 3 || !strings.Contains(r.Stderr, "critical "+fixableCriticalID+" in minimist 1.2.5 -> 1.2.6") {
			t.Errorf("%s: exit %d, want 3 (policy failure) naming %s:\n%s", what, r.Code, fixableCriticalID, r.Stderr)
		}
	}

	r := e.buildWith(t, plugin, dir)
	fails("the scan step binary", r)
	if !scannerSent(r.Stderr) || !bundled("secure-build-scan") || bundled("docker-secure") {
		t.Errorf("the plugin did not send its scan step binary alone (scanner sent: %v)\n%s", scannerSent(r.Stderr), r.Stderr)
	}
	if strings.Contains(r.Stderr, "not the scan step") {
		t.Errorf("the plugin refused its own scan step binary:\n%s", r.Stderr)
	}

	// Another build's scan step: here the plugin itself, which runs the
	// step too, so only the digest tells them apart.
	b, err := os.ReadFile(plugin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(step, b, 0o755); err != nil {
		t.Fatal(err)
	}
	r = e.buildWith(t, plugin, dir)
	fails("a scan step binary of another build", r)
	if !strings.Contains(r.Stderr, step+" is not the scan step this binary was built with") || !bundled("docker-secure") {
		t.Errorf("the plugin did not refuse another build's scan step, or did not send itself:\n%s", r.Stderr)
	}
}
