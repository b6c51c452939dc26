package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// EngineBinaries are the Docker Engine's programs that scripts/test.sh
// builds (scripts/lib.sh build_docker_engine).
type EngineBinaries struct {
	Dockerd, Containerd string
	ShimDir             string // holds containerd-shim-runc-v2; first on containerd's PATH
}

// DockerEngineBinaries returns the dockerd, containerd and shim folder named
// by SECURE_BUILD_DOCKERD, SECURE_BUILD_CONTAINERD and
// SECURE_BUILD_CONTAINERD_SHIM. A missing one, runc, ip or the docker CLI
// missing, or not being root, skips the test (fails it under
// SECURE_BUILD_E2E=1).
func DockerEngineBinaries(t testing.TB) EngineBinaries {
	t.Helper()
	if os.Geteuid() != 0 {
		RequireE2E(t, "the Docker Engine (dockerd, containerd) needs root")
	}
	var b EngineBinaries
	for _, v := range []struct {
		env, file string
		dst       *string
	}{
		{"SECURE_BUILD_DOCKERD", "", &b.Dockerd},
		{"SECURE_BUILD_CONTAINERD", "", &b.Containerd},
		{"SECURE_BUILD_CONTAINERD_SHIM", "containerd-shim-runc-v2", &b.ShimDir},
	} {
		path := os.Getenv(v.env)
		if path == "" {
			RequireE2E(t, "%s is not set (scripts/lib.sh build_docker_engine sets it)", v.env)
		}
		if _, err := os.Stat(filepath.Join(path, v.file)); err != nil {
			RequireE2E(t, "%s=%s: %v", v.env, path, err)
		}
		*v.dst = path
	}
	for cmd, install := range map[string]string{"runc": "apt-get install runc", "docker": "apt-get install docker.io", "ip": "apt-get install iproute2"} {
		if _, err := exec.LookPath(cmd); err != nil {
			RequireE2E(t, "no %s on PATH (%s)", cmd, install)
		}
	}
	return b
}

// BuildxBinary is the buildx scripts/test.sh installs (SECURE_BUILD_BUILDX).
func BuildxBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("SECURE_BUILD_BUILDX")
	if path == "" {
		RequireE2E(t, "SECURE_BUILD_BUILDX names no docker-buildx (scripts/lib.sh build_docker_engine installs it)")
	}
	if _, err := os.Stat(path); err != nil {
		RequireE2E(t, "SECURE_BUILD_BUILDX=%s: %v", path, err)
	}
	return path
}

// DockerEngine is a private Docker Engine: dockerd on its own containerd,
// run as root, with the containerd image store.
type DockerEngine struct {
	// Host is the engine's DOCKER_HOST value, unix://.../docker.sock.
	Host                string
	dir                 string // folders, sockets and logs; short, for socket paths
	bridge              string
	containerd, dockerd *daemon
}

// containerdConfig keeps a machine's /etc/containerd/config.toml out of the
// test and leaves out the Kubernetes (CRI) plugins dockerd does not use.
const containerdConfig = `version = 3
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"]
`

// dockerdConfig keeps a machine's /etc/docker/daemon.json out of the test.
// Debian 12's runc (1.1.5) knows no time namespace, which dockerd puts in
// every container's spec where the kernel has them: "runc create failed:
// namespace {"time" ""} does not exist" without this feature flag.
const dockerdConfig = `{"features": {"time-namespaces": false}}
`

// NewDockerEngine starts containerd, then dockerd on it, each on its own
// socket and folders in a fresh folder, with no iptables rules and no
// userland proxy, and a bridge of its own (engineBridge) as its default
// network. insecureRegistries ("127.0.0.1:PORT", a Registry's Addr) are
// reached over plain HTTP. It waits until the docker CLI gets an answer.
// Close stops both, unmounts what they left mounted and removes the folder.
func NewDockerEngine(bins EngineBinaries, insecureRegistries ...string) (*DockerEngine, error) {
	// A unix socket path is limited to about 108 bytes: use a short folder.
	dir, err := os.MkdirTemp("/tmp", "dk")
	if err != nil {
		return nil, err
	}
	e := &DockerEngine{Host: "unix://" + filepath.Join(dir, "docker.sock"), dir: dir}
	if err := e.start(bins, insecureRegistries); err != nil {
		if msg := e.Close(); msg != "" {
			err = fmt.Errorf("%w\n%s", err, msg)
		}
		return nil, err
	}
	return e, nil
}

func (e *DockerEngine) start(bins EngineBinaries, insecureRegistries []string) error {
	containerdSock := filepath.Join(e.dir, "containerd.sock")
	// runc is in /usr/sbin, which a test's PATH may lack.
	path := "PATH=" + bins.ShimDir + ":" + os.Getenv("PATH") + ":/usr/sbin:/sbin"
	configPath := filepath.Join(e.dir, "containerd.toml")
	if err := os.WriteFile(configPath, []byte(containerdConfig), 0o644); err != nil {
		return err
	}
	var err error
	e.containerd, err = startDaemon("containerd", filepath.Join(e.dir, "containerd.log"), []string{path},
		bins.Containerd,
		"--config", configPath,
		"--root", filepath.Join(e.dir, "containerd"),
		"--state", filepath.Join(e.dir, "containerd-state"),
		"--address", containerdSock,
	)
	if err != nil {
		return err
	}
	err = e.containerd.waitReady(60*time.Second, func() error {
		c, err := net.Dial("unix", containerdSock)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return err
	}
	if e.bridge, err = engineBridge(filepath.Base(e.dir)); err != nil {
		return err
	}
	daemonJSON := filepath.Join(e.dir, "daemon.json")
	if err := os.WriteFile(daemonJSON, []byte(dockerdConfig), 0o644); err != nil {
		return err
	}
	args := []string{
		"--config-file", daemonJSON, // not the machine's /etc/docker/daemon.json
		"--host", e.Host,
		"--containerd", containerdSock,
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", filepath.Join(e.dir, "exec"),
		"--pidfile", filepath.Join(e.dir, "dockerd.pid"),
		// No iptables rules on the host; without a userland proxy binary
		// dockerd refuses to start unless told not to use one.
		"--iptables=false", "--ip6tables=false", "--userland-proxy=false",
		// Not --bridge=none: the engine's BuildKit runs RUN steps on the
		// network called bridge ("network bridge not found" without it). Not
		// docker0 either, which another engine started with --bridge=none
		// deletes.
		"--bridge", e.bridge,
	}
	for _, r := range insecureRegistries {
		args = append(args, "--insecure-registry", r)
	}
	e.dockerd, err = startDaemon("dockerd", filepath.Join(e.dir, "dockerd.log"), []string{path}, bins.Dockerd, args...)
	if err != nil {
		return err
	}
	probeEnv := []string{"DOCKER_HOST=" + e.Host, "DOCKER_CONFIG=" + filepath.Join(e.dir, "probe-config")}
	return e.dockerd.waitReady(90*time.Second, func() error {
		cmd := exec.Command("docker", "version", "--format", "{{.Server.Version}}")
		cmd.Env = append(os.Environ(), probeEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker version: %v: %s", err, bytes.TrimSpace(out))
		}
		return nil
	})
}

// Logs are the ends of containerd's and dockerd's logs.
func (e *DockerEngine) Logs() string {
	var b strings.Builder
	for _, d := range []*daemon{e.containerd, e.dockerd} {
		if d != nil {
			fmt.Fprintf(&b, "%s log (end):\n%s\n", d.name, d.tail(60))
		}
	}
	return b.String()
}

// Close stops dockerd, then containerd (dockerd stops its containers
// through it), kills the shims of containers still running, unmounts what
// they left, deletes the bridge and removes the folder. It returns what
// went wrong, for the log.
func (e *DockerEngine) Close() string {
	var msgs []string
	if e.dockerd != nil {
		msgs = append(msgs, e.dockerd.stop(30*time.Second))
	}
	if e.containerd != nil {
		msgs = append(msgs, e.containerd.stop(20*time.Second))
	}
	// A shim outlives its containerd while its container runs.
	msgs = append(msgs, killShims(filepath.Join(e.dir, "containerd.sock")))
	msgs = append(msgs, unmountUnder(e.dir))
	if e.bridge != "" {
		if out, err := exec.Command("ip", "link", "del", e.bridge).CombinedOutput(); err != nil {
			msgs = append(msgs, fmt.Sprintf("ip link del %s: %v: %s", e.bridge, err, out))
		}
	}
	if err := os.RemoveAll(e.dir); err != nil {
		msgs = append(msgs, fmt.Sprintf("remove %s: %v", e.dir, err))
	}
	return strings.TrimSpace(strings.Join(msgs, "\n"))
}

// engineBridge creates a Linux bridge named after the engine's folder, with
// a free /24 of 198.18.0.0/15 (the range set aside for benchmarks, RFC 2544),
// for dockerd's default network; Close deletes it. A user-managed bridge is
// one dockerd neither creates nor deletes, so engines side by side keep
// theirs.
func engineBridge(id string) (string, error) {
	name := "sb" + id
	if len(name) > 15 { // IFNAMSIZ
		name = name[:15]
	}
	used := map[string]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			used[n.IP.Mask(net.CIDRMask(24, 32)).String()] = true
		}
	}
	var cidr string
	for i := 0; i < 256 && cidr == ""; i++ {
		x := (int(time.Now().UnixNano()) + i) % 256
		if !used[fmt.Sprintf("198.18.%d.0", x)] {
			cidr = fmt.Sprintf("198.18.%d.1/24", x)
		}
	}
	if cidr == "" {
		return "", fmt.Errorf("no free /24 in 198.18.0.0/16 for the engine's bridge")
	}
	if out, err := exec.Command("ip", "link", "add", name, "type", "bridge").CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip link add %s type bridge: %v: %s", name, err, out)
	}
	for _, args := range [][]string{
		{"addr", "add", cidr, "dev", name},
		{"link", "set", name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			_ = exec.Command("ip", "link", "del", name).Run()
			return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return name, nil
}

// CLI makes a private DOCKER_CONFIG holding the CLI plugins (name: binary,
// such as "docker-secure": its path) and returns the env for the docker CLI
// to use them with this engine.
func (e *DockerEngine) CLI(t testing.TB, plugins map[string]string) []string {
	t.Helper()
	return []string{"DOCKER_CONFIG=" + PluginConfig(t, plugins), "DOCKER_HOST=" + e.Host}
}

// PluginConfig makes a private DOCKER_CONFIG with the CLI plugins (name:
// binary), as "make install" puts them, and returns its folder.
func PluginConfig(t testing.TB, plugins map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "cli-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, binary := range plugins {
		data, err := os.ReadFile(binary)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cli-plugins", name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Docker runs the real docker CLI against this engine with env (from CLI),
// and returns its output and exit status.
func (e *DockerEngine) Docker(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	return Run(t, append(env[:len(env):len(env)], "DOCKER_HOST="+e.Host), "docker", args...)
}

// MustDocker is Docker that fails the test on a non-zero exit, with the
// output; it returns stdout.
func (e *DockerEngine) MustDocker(t testing.TB, env []string, args ...string) string {
	t.Helper()
	r := e.Docker(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// ImageStoreDriver is the engine's storage driver type as docker info shows
// it: io.containerd.snapshotter.v1 with the containerd image store.
func (e *DockerEngine) ImageStoreDriver(t testing.TB, env []string) string {
	t.Helper()
	out := e.MustDocker(t, env, "info", "--format", `{{range .DriverStatus}}{{index . 0}}={{index . 1}}{{"\n"}}{{end}}`)
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "driver-type="); ok {
			return v
		}
	}
	return ""
}

// Load loads img into the engine as ref ("base:1") with docker load of a
// docker-archive tar: FROM ref in a Dockerfile then finds it in the
// engine's image store, no registry needed.
func (e *DockerEngine) Load(t testing.TB, env []string, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatalf("load %q: %v", ref, err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatalf("write %s as a docker-archive: %v", ref, err)
	}
	e.MustDocker(t, env, "load", "--input", archive)
}

// ConfigDir is the DOCKER_CONFIG an env names.
func ConfigDir(t testing.TB, env []string) string {
	t.Helper()
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "DOCKER_CONFIG="); ok {
			return v
		}
	}
	t.Fatalf("env %q names no DOCKER_CONFIG", env)
	return ""
}

// InstallBuildx puts the buildx of SECURE_BUILD_BUILDX into the cli-plugins
// of env's DOCKER_CONFIG as docker-buildx, so that docker buildx (and docker
// build) work there. No buildx is installed on the machine itself.
func InstallBuildx(t testing.TB, env []string) {
	t.Helper()
	buildx := BuildxBinary(t)
	dst := filepath.Join(ConfigDir(t, env), "cli-plugins", "docker-buildx")
	if _, err := os.Lstat(dst); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(buildx, dst); err != nil {
		t.Fatal(err)
	}
}

// CreateRemoteBuilder registers, in env's DOCKER_CONFIG, a buildx builder
// called name with the remote driver at buildkitAddr (a BuildKit's Addr),
// installing buildx there first if needed. It does not make the builder the
// active one.
func CreateRemoteBuilder(t testing.TB, env []string, name, buildkitAddr string) {
	t.Helper()
	InstallBuildx(t, env)
	r := Run(t, env, "docker", "buildx", "create", "--name", name, "--driver", "remote", buildkitAddr)
	if r.Code != 0 {
		t.Fatalf("docker buildx create --name %s --driver remote %s: exit %d\n%s%s", name, buildkitAddr, r.Code, r.Stdout, r.Stderr)
	}
}

// killShims kills the containerd-shim-runc-v2 processes the containerd at
// sock started (their command line names its socket), which a container
// still running at the end keeps alive.
func killShims(sock string) string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return ""
	}
	var killed []string
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if !strings.HasSuffix(args[0], "containerd-shim-runc-v2") || !strings.Contains(string(cmdline), sock) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		killed = append(killed, e.Name())
	}
	if len(killed) == 0 {
		return ""
	}
	return "killed containerd shims left running: " + strings.Join(killed, " ")
}

// unmountUnder unmounts every mount point under dir, deepest first, so that
// the folder can be removed: containerd's overlay snapshots and container
// root filesystems, and what a killed daemon left behind.
func unmountUnder(dir string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fmt.Sprintf("read mounts: %v", err)
	}
	defer f.Close()
	var mounts []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		// The mount point is the 5th field, with spaces and such octal-escaped.
		mp := unescapeMountinfo(fields[4])
		if strings.HasPrefix(mp, dir+"/") {
			mounts = append(mounts, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	var msgs []string
	for _, mp := range mounts {
		if err := syscall.Unmount(mp, 0); err != nil {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
				msgs = append(msgs, fmt.Sprintf("unmount %s: %v", mp, err))
			}
		}
	}
	return strings.Join(msgs, "\n")
}

// unescapeMountinfo undoes /proc/self/mountinfo's \ooo escapes.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(byte(c))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
