package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pluginConfig makes a private DOCKER_CONFIG with docker-secure installed as
// a CLI plugin, as "make install" does, and returns the env to use it.
func pluginConfig(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		requireE2E(t, "no docker CLI on PATH")
	}
	dir := t.TempDir()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "cli-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cli-plugins", "docker-secure"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	// No daemon is needed: DOCKER_HOST points nowhere so nothing is dialed by accident.
	return []string{"DOCKER_CONFIG=" + dir, "DOCKER_HOST=unix://" + filepath.Join(dir, "no-daemon.sock")}
}

// TestPluginThroughDockerCLI: the real docker CLI finds the plugin, lists it,
// and runs its commands, their help and their exit statuses.
func TestPluginThroughDockerCLI(t *testing.T) {
	env := pluginConfig(t)

	res := runCmd(t, env, "docker", "--help")
	if res.code != 0 || !strings.Contains(res.stdout, "secure*") || !strings.Contains(res.stdout, "Scan images while they build") {
		t.Errorf("docker --help does not list the plugin (exit %d):\n%s%s", res.code, res.stdout, res.stderr)
	}

	res = runCmd(t, env, "docker", "info", "--format", `{{range .ClientInfo.Plugins}}{{.Name}} {{.Vendor}}{{"\n"}}{{end}}`)
	if !strings.Contains(res.stdout, "secure secure-build") {
		t.Errorf("docker info's plugin list lacks secure:\n%s%s", res.stdout, res.stderr)
	}

	res = runCmd(t, env, "docker", "secure", "--help")
	for _, want := range []string{"docker secure", "sbom", `"docker secure-build" command is spelled "docker secure"`} {
		if res.code != 0 || !strings.Contains(res.stdout, want) {
			t.Errorf("docker secure --help (exit %d) lacks %q:\n%s", res.code, want, res.stdout)
		}
	}

	res = runCmd(t, env, "docker", "secure", "sbom", "--help")
	for _, want := range []string{"docker secure sbom [OPTIONS] TARGET", "oci-layout:PATH", "docker-archive:FILE", "Examples:", "--format"} {
		if res.code != 0 || !strings.Contains(res.stdout, want) {
			t.Errorf("docker secure sbom --help (exit %d) lacks %q:\n%s", res.code, want, res.stdout)
		}
	}

	res = runCmd(t, env, "docker", "secure", "sbom", filepath.Join(t.TempDir(), "missing"))
	if res.code != 2 || !strings.Contains(res.stderr, "missing") {
		t.Errorf("sbom of a missing directory: exit %d, stderr %q; want exit 2 naming it", res.code, res.stderr)
	}
	res = runCmd(t, env, "docker", "secure", "sbom", "--format", "yaml", t.TempDir())
	if res.code != 2 || !strings.Contains(res.stderr, `--format "yaml"`) {
		t.Errorf("sbom --format yaml: exit %d, stderr %q; want exit 2 naming the format", res.code, res.stderr)
	}
}

// TestPluginMetadata: the metadata the docker CLI reads to accept a plugin.
func TestPluginMetadata(t *testing.T) {
	res := runCmd(t, nil, binary, "docker-cli-plugin-metadata")
	var meta struct {
		SchemaVersion, Vendor, ShortDescription string
	}
	if err := json.Unmarshal([]byte(res.stdout), &meta); err != nil || res.code != 0 {
		t.Fatalf("metadata: exit %d, %v: %s", res.code, err, res.stdout)
	}
	if meta.SchemaVersion != "0.1.0" || meta.Vendor != "secure-build" || meta.ShortDescription == "" {
		t.Errorf("metadata %+v", meta)
	}
}

// TestSBOMThroughDockerCLI: "docker secure sbom" on a real Debian root, each
// format, and -o writing a file.
func TestSBOMThroughDockerCLI(t *testing.T) {
	root := testRootfs(t)
	env := append(pluginConfig(t), "SOURCE_DATE_EPOCH=1700000000")

	res := runCmd(t, env, "docker", "secure", "sbom", root)
	if res.code != 0 || !strings.Contains(res.stdout, "Debian GNU/Linux 12 (bookworm)") || !strings.Contains(res.stdout, "libc6") {
		t.Fatalf("table (exit %d):\n%s\n%s", res.code, res.stdout, res.stderr)
	}

	out := filepath.Join(t.TempDir(), "root.cdx.json")
	res = runCmd(t, env, "docker", "secure", "sbom", "--format", "cyclonedx-json", "-o", out, root)
	if res.code != 0 || res.stdout != "" {
		t.Fatalf("cyclonedx-json -o (exit %d): stdout %q stderr %s", res.code, res.stdout, res.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		SpecVersion string `json:"specVersion"`
		Metadata    struct {
			Timestamp string `json:"timestamp"`
		} `json:"metadata"`
		Components []struct {
			Name, Purl string
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &bom); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if bom.SpecVersion != "1.6" || bom.Metadata.Timestamp != "2023-11-14T22:13:20Z" || len(bom.Components) < 50 {
		t.Errorf("cyclonedx: spec %q timestamp %q components %d", bom.SpecVersion, bom.Metadata.Timestamp, len(bom.Components))
	}
	again := runCmd(t, env, "docker", "secure", "sbom", "--format", "cyclonedx-json", root)
	if again.stdout != string(data) {
		t.Errorf("two runs with SOURCE_DATE_EPOCH set differ")
	}
}
