package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil"
)

// TestPluginThroughDockerCLI: the real docker CLI finds the plugin, lists it,
// and runs its commands, their help and their exit statuses.
func TestPluginThroughDockerCLI(t *testing.T) {
	t.Parallel()
	env := pluginConfig(t)

	res := runCmd(t, env, "docker", "--help")
	if res.Code != 0 || !strings.Contains(res.Stdout, "secure*") || !strings.Contains(res.Stdout, "Scan images while they build") {
		t.Errorf("docker --help does not list the plugin (exit %d):\n%s%s", res.Code, res.Stdout, res.Stderr)
	}

	res = runCmd(t, env, "docker", "info", "--format", `{{range .ClientInfo.Plugins}}{{.Name}} {{.Vendor}}{{"\n"}}{{end}}`)
	if !strings.Contains(res.Stdout, "secure secure-build") {
		t.Errorf("docker info's plugin list lacks secure:\n%s%s", res.Stdout, res.Stderr)
	}

	res = runCmd(t, env, "docker", "secure", "--help")
	for _, want := range []string{"docker secure", "sbom", `"docker secure-build" command is spelled "docker secure"`} {
		if res.Code != 0 || !strings.Contains(res.Stdout, want) {
			t.Errorf("docker secure --help (exit %d) lacks %q:\n%s", res.Code, want, res.Stdout)
		}
	}

	res = runCmd(t, env, "docker", "secure", "sbom", "--help")
	for _, want := range []string{"docker secure sbom [OPTIONS] TARGET", "oci-layout:PATH", "docker-archive:FILE", "Examples:", "--format"} {
		if res.Code != 0 || !strings.Contains(res.Stdout, want) {
			t.Errorf("docker secure sbom --help (exit %d) lacks %q:\n%s", res.Code, want, res.Stdout)
		}
	}

	res = runCmd(t, env, "docker", "secure", "sbom", filepath.Join(t.TempDir(), "missing"))
	if res.Code != 2 || !strings.Contains(res.Stderr, "missing") {
		t.Errorf("sbom of a missing directory: exit %d, stderr %q; want exit 2 naming it", res.Code, res.Stderr)
	}
	res = runCmd(t, env, "docker", "secure", "sbom", "--format", "yaml", t.TempDir())
	if res.Code != 2 || !strings.Contains(res.Stderr, `--format "yaml"`) {
		t.Errorf("sbom --format yaml: exit %d, stderr %q; want exit 2 naming the format", res.Code, res.Stderr)
	}
}

// TestPluginMetadata: the metadata the docker CLI reads to accept a plugin.
func TestPluginMetadata(t *testing.T) {
	t.Parallel()
	res := runCmd(t, nil, binary, "docker-cli-plugin-metadata")
	var meta struct {
		SchemaVersion, Vendor, ShortDescription string
	}
	if err := json.Unmarshal([]byte(res.Stdout), &meta); err != nil || res.Code != 0 {
		t.Fatalf("metadata: exit %d, %v: %s", res.Code, err, res.Stdout)
	}
	if meta.SchemaVersion != "0.1.0" || meta.Vendor != "secure-build" || meta.ShortDescription == "" {
		t.Errorf("metadata %+v", meta)
	}
}

// TestSBOMThroughDockerCLI: "docker secure sbom" on a real Debian root, each
// format, and -o writing a file.
func TestSBOMThroughDockerCLI(t *testing.T) {
	t.Parallel()
	root := testutil.DebianRoot(t)
	env := append(pluginConfig(t), "SOURCE_DATE_EPOCH=1700000000")

	res := runCmd(t, env, "docker", "secure", "sbom", root)
	if res.Code != 0 || !strings.Contains(res.Stdout, "Debian GNU/Linux 12 (bookworm)") || !strings.Contains(res.Stdout, "libc6") {
		t.Fatalf("table (exit %d):\n%s\n%s", res.Code, res.Stdout, res.Stderr)
	}

	out := filepath.Join(t.TempDir(), "root.cdx.json")
	res = runCmd(t, env, "docker", "secure", "sbom", "--format", "cyclonedx-json", "-o", out, root)
	if res.Code != 0 || res.Stdout != "" {
		t.Fatalf("cyclonedx-json -o (exit %d): stdout %q stderr %s", res.Code, res.Stdout, res.Stderr)
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
	if again.Stdout != string(data) {
		t.Errorf("two runs with SOURCE_DATE_EPOCH set differ")
	}
}
