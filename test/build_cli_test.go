package test

import (
	"strings"
	"testing"
)

// TestBuildThroughDockerCLI: "docker secure build" as the Docker CLI runs
// the plugin, against BUILDKIT_HOST: its help, a passing build, and a policy
// failure that exits 1 with the findings.
func TestBuildThroughDockerCLI(t *testing.T) {
	t.Parallel()
	env := pluginConfig(t)
	res := runCmd(t, env, "docker", "secure", "build", "--help")
	for _, want := range []string{"docker secure build [OPTIONS] PATH", "Examples:", "--fail-on", "--sbom-output", "--push"} {
		if res.Code != 0 || !strings.Contains(res.Stdout, want) {
			t.Errorf("docker secure build --help (exit %d) lacks %q:\n%s", res.Code, want, res.Stdout)
		}
	}

	e := newBuildEnv(t)
	env = append(env, "BUILDKIT_HOST="+e.bk.Addr, "XDG_CACHE_HOME="+e.cache)
	good := e.project(t, multiStage, map[string]string{"node_modules/listed/package.json": npmPackage("listed", "2.0.1")})
	res = runCmd(t, env, "docker", "secure", "build", "--progress", "plain", "--db", e.db, good)
	if res.Code != 0 || !strings.Contains(res.Stderr, "secure-build linux/amd64: PASS") {
		t.Errorf("a passing build through the docker CLI: exit %d\n%s", res.Code, res.Stderr)
	}
	bad := e.project(t, multiStage, map[string]string{"node_modules/minimist/package.json": npmPackage("minimist", "1.2.5")})
	res = runCmd(t, env, "docker", "secure", "build", "--progress", "plain", "--db", e.db, bad)
	if res.Code != 3 || !strings.Contains(res.Stderr, fixableCriticalID+" in minimist 1.2.5 -> 1.2.6") {
		t.Errorf("a policy failure through the docker CLI: exit %d, want 3 with the finding\n%s", res.Code, res.Stderr)
	}
}
