package test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// engineBinaries are the Docker Engine's programs that scripts/test.sh builds
// (scripts/lib.sh build_docker_engine).
type engineBinaries struct {
	dockerd, containerd string
	shimDir             string // holds containerd-shim-runc-v2; first on containerd's PATH
}

// dockerEngineBinaries returns the dockerd, containerd and shim folder named
// by SECURE_BUILD_DOCKERD, SECURE_BUILD_CONTAINERD and
// SECURE_BUILD_CONTAINERD_SHIM. A missing one, runc or the docker CLI missing,
// or not being root, skips the test (fails it under SECURE_BUILD_E2E=1).
func dockerEngineBinaries(t *testing.T) engineBinaries {
	t.Helper()
	if os.Geteuid() != 0 {
		requireE2E(t, "the Docker Engine (dockerd, containerd) needs root")
	}
	var b engineBinaries
	for _, v := range []struct {
		env, file string
		dst       *string
	}{
		{"SECURE_BUILD_DOCKERD", "", &b.dockerd},
		{"SECURE_BUILD_CONTAINERD", "", &b.containerd},
		{"SECURE_BUILD_CONTAINERD_SHIM", "containerd-shim-runc-v2", &b.shimDir},
	} {
		path := os.Getenv(v.env)
		if path == "" {
			requireE2E(t, "%s is not set (scripts/lib.sh build_docker_engine sets it)", v.env)
		}
		if _, err := os.Stat(filepath.Join(path, v.file)); err != nil {
			requireE2E(t, "%s=%s: %v", v.env, path, err)
		}
		*v.dst = path
	}
	if _, err := exec.LookPath("runc"); err != nil {
		requireE2E(t, "runc is not installed (apt-get install runc)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		requireE2E(t, "no docker CLI on PATH")
	}
	return b
}

// buildxBinary is the buildx scripts/test.sh installs (SECURE_BUILD_BUILDX).
func buildxBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SECURE_BUILD_BUILDX")
	if path == "" {
		requireE2E(t, "SECURE_BUILD_BUILDX names no docker-buildx (scripts/lib.sh build_docker_engine installs it)")
	}
	if _, err := os.Stat(path); err != nil {
		requireE2E(t, "SECURE_BUILD_BUILDX=%s: %v", path, err)
	}
	return path
}

// dockerEngine is a private Docker Engine (dockerd on its own containerd)
// started for one test.
type dockerEngine struct {
	// Host is the engine's DOCKER_HOST value, unix://.../docker.sock.
	Host string
	dir  string // the engine's folders, sockets and logs; short, for socket paths
}

// daemon is a background process of the harness with its log file.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan error // receives Wait's result once; put back for the next reader
}

// startDaemon starts a long-running process whose output goes to logPath.
func startDaemon(t *testing.T, name, logPath string, env []string, path string, args ...string) *daemon {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait() }()
	return d
}

// running reports whether the process has not exited (and its error if it has).
func (d *daemon) running() (bool, error) {
	select {
	case err := <-d.exited:
		d.exited <- err
		return false, err
	default:
		return true, nil
	}
}

// stop sends SIGTERM and waits up to timeout before killing the process.
func (d *daemon) stop(t *testing.T, timeout time.Duration) {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		d.exited <- err
	case <-time.After(timeout):
		t.Logf("%s did not stop on SIGTERM in %s; killing it", d.name, timeout)
		_ = d.cmd.Process.Kill()
		d.exited <- <-d.exited
	}
}

// tail is the end of the daemon's log, for failure messages.
func (d *daemon) tail(lines int) string {
	b, _ := os.ReadFile(d.log)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// waitReady calls ready until it returns nil, failing the test when the
// daemon exits first or the timeout passes; last is ready's last error.
func (d *daemon) waitReady(t *testing.T, timeout time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		if ok, exitErr := d.running(); !ok {
			t.Fatalf("%s exited before it was ready: %v\nlog:\n%s", d.name, exitErr, d.tail(60))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v\nlog:\n%s", d.name, timeout, err, d.tail(60))
		}
		time.Sleep(250 * time.Millisecond)
	}
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

// startDockerEngine starts a private Docker Engine as root: containerd, then
// dockerd on it, each on its own socket and folders in a fresh temporary
// folder, with no iptables rules and no userland proxy, and a bridge of its
// own (engineBridge) as its default network. insecureRegistries ("127.0.0.1:PORT", such as
// startRegistry's host) are reached over plain HTTP. It waits until the docker
// CLI gets an answer, and stops both, unmounts what they left mounted and
// removes the folder when the test ends.
func startDockerEngine(t *testing.T, insecureRegistries ...string) *dockerEngine {
	t.Helper()
	bins := dockerEngineBinaries(t)
	// A unix socket path is limited to about 108 bytes: t.TempDir() can be
	// longer, so use a short folder under /tmp.
	dir, err := os.MkdirTemp("/tmp", "dk")
	if err != nil {
		t.Fatal(err)
	}
	e := &dockerEngine{Host: "unix://" + filepath.Join(dir, "docker.sock"), dir: dir}
	containerdSock := filepath.Join(dir, "containerd.sock")
	var containerd, dockerd *daemon
	var bridge string
	start := time.Now()
	t.Cleanup(func() {
		// dockerd first: it stops its containers through containerd.
		if dockerd != nil {
			dockerd.stop(t, 30*time.Second)
		}
		if containerd != nil {
			containerd.stop(t, 20*time.Second)
		}
		// A shim outlives its containerd while its container runs.
		killShims(t, containerdSock)
		unmountUnder(t, dir)
		if bridge != "" {
			if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil {
				t.Logf("ip link del %s: %v: %s", bridge, err, out)
			}
		}
		if t.Failed() {
			for _, d := range []*daemon{containerd, dockerd} {
				if d != nil {
					t.Logf("%s log (end):\n%s", d.name, d.tail(60))
				}
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove %s: %v", dir, err)
		}
	})

	// runc is in /usr/sbin, which a test's PATH may lack.
	path := "PATH=" + bins.shimDir + ":" + os.Getenv("PATH") + ":/usr/sbin:/sbin"
	configPath := filepath.Join(dir, "containerd.toml")
	if err := os.WriteFile(configPath, []byte(containerdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	containerd = startDaemon(t, "containerd", filepath.Join(dir, "containerd.log"), []string{path},
		bins.containerd,
		"--config", configPath,
		"--root", filepath.Join(dir, "containerd"),
		"--state", filepath.Join(dir, "containerd-state"),
		"--address", containerdSock,
	)
	containerd.waitReady(t, 60*time.Second, func() error {
		c, err := net.Dial("unix", containerdSock)
		if err == nil {
			c.Close()
		}
		return err
	})

	bridge = engineBridge(t, filepath.Base(dir))
	daemonJSON := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(daemonJSON, []byte(dockerdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--config-file", daemonJSON, // not the machine's /etc/docker/daemon.json
		"--host", e.Host,
		"--containerd", containerdSock,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		// No iptables rules on the host; without a userland proxy binary
		// dockerd refuses to start unless told not to use one.
		"--iptables=false", "--ip6tables=false", "--userland-proxy=false",
		// Not --bridge=none: the engine's BuildKit runs RUN steps on the
		// network called bridge ("network bridge not found" without it). Not
		// docker0 either, which another engine started with --bridge=none
		// deletes.
		"--bridge", bridge,
	}
	for _, r := range insecureRegistries {
		args = append(args, "--insecure-registry", r)
	}
	dockerd = startDaemon(t, "dockerd", filepath.Join(dir, "dockerd.log"), []string{path}, bins.dockerd, args...)
	probeEnv := []string{"DOCKER_HOST=" + e.Host, "DOCKER_CONFIG=" + filepath.Join(dir, "probe-config")}
	dockerd.waitReady(t, 90*time.Second, func() error {
		cmd := exec.Command("docker", "version", "--format", "{{.Server.Version}}")
		cmd.Env = append(os.Environ(), probeEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker version: %v: %s", err, bytes.TrimSpace(out))
		}
		return nil
	})
	t.Logf("Docker Engine up at %s in %s", e.Host, time.Since(start).Round(time.Millisecond))
	return e
}

// engineBridge creates a Linux bridge named after the engine's folder, with
// a free /24 of 198.18.0.0/15 (the range set aside for benchmarks, RFC 2544),
// for dockerd's default network; the caller deletes it. A user-managed
// bridge is one dockerd neither creates nor deletes, so engines side by side
// keep theirs.
func engineBridge(t *testing.T, id string) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		requireE2E(t, "no ip command (apt-get install iproute2)")
	}
	name := "sb" + id
	if len(name) > 15 { // IFNAMSIZ
		name = name[:15]
	}
	used := map[string]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
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
		t.Fatal("no free /24 in 198.18.0.0/16 for the engine's bridge")
	}
	if out, err := exec.Command("ip", "link", "add", name, "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add %s type bridge: %v: %s", name, err, out)
	}
	for _, args := range [][]string{
		{"addr", "add", cidr, "dev", name},
		{"link", "set", name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			_ = exec.Command("ip", "link", "del", name).Run()
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return name
}

// cli makes a private DOCKER_CONFIG with docker-secure installed as a plugin
// (pluginConfig) and returns the env for the docker CLI to use it with this
// engine. Install buildx into it with installBuildx.
func (e *dockerEngine) cli(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range pluginConfig(t) {
		if !strings.HasPrefix(kv, "DOCKER_HOST=") {
			env = append(env, kv)
		}
	}
	return append(env, "DOCKER_HOST="+e.Host)
}

// docker runs the real docker CLI against this engine with env (from cli),
// and returns its output and exit status.
func (e *dockerEngine) docker(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, append(env[:len(env):len(env)], "DOCKER_HOST="+e.Host), "docker", args...)
}

// mustDocker is docker that fails the test on a non-zero exit, with the
// output; it returns stdout.
func (e *dockerEngine) mustDocker(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := e.docker(t, env, args...)
	if r.code != 0 {
		t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// imageStoreDriver is the engine's storage driver type as docker info shows
// it: io.containerd.snapshotter.v1 with the containerd image store.
func (e *dockerEngine) imageStoreDriver(t *testing.T, env []string) string {
	t.Helper()
	out := e.mustDocker(t, env, "info", "--format", `{{range .DriverStatus}}{{index . 0}}={{index . 1}}{{"\n"}}{{end}}`)
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "driver-type="); ok {
			return v
		}
	}
	return ""
}

// configDir is the DOCKER_CONFIG an env from pluginConfig or cli names.
func configDir(t *testing.T, env []string) string {
	t.Helper()
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "DOCKER_CONFIG="); ok {
			return v
		}
	}
	t.Fatalf("env %q names no DOCKER_CONFIG", env)
	return ""
}

// installBuildx puts the buildx of SECURE_BUILD_BUILDX into the cli-plugins
// of env's DOCKER_CONFIG as docker-buildx, so that docker buildx (and docker
// build) work there. No buildx is installed on the machine itself.
func installBuildx(t *testing.T, env []string) {
	t.Helper()
	buildx := buildxBinary(t)
	dst := filepath.Join(configDir(t, env), "cli-plugins", "docker-buildx")
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

// createRemoteBuilder registers, in env's DOCKER_CONFIG, a buildx builder
// called name with the remote driver at buildkitAddr (a startBuildKit's addr,
// unix://.../buildkitd.sock), installing buildx there first if needed. It
// does not make the builder the active one.
func createRemoteBuilder(t *testing.T, env []string, name, buildkitAddr string) {
	t.Helper()
	installBuildx(t, env)
	r := runCmd(t, env, "docker", "buildx", "create", "--name", name, "--driver", "remote", buildkitAddr)
	if r.code != 0 {
		t.Fatalf("docker buildx create --name %s --driver remote %s: exit %d\n%s%s", name, buildkitAddr, r.code, r.stdout, r.stderr)
	}
}

// busyboxImage is the base image of busyboxBase (the static busybox of
// Debian's busybox-static as /bin/busybox, with sh, cat and echo linked to it,
// and /etc/os-release), made in the test process with go-containerregistry:
// no BuildKit is needed to get it into an engine or a registry. It is for
// this machine's platform.
func busyboxImage(t *testing.T, osRelease string) v1.Image {
	t.Helper()
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		requireE2E(t, "no /bin/busybox (apt-get install busybox-static): %v", err)
	}
	if !isStaticELF(busybox) {
		requireE2E(t, "/bin/busybox is not the static one (apt-get install busybox-static)")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Size = mtime, int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin/", "etc/"} {
		add(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, busybox)
	for _, cmd := range []string{"sh", "cat", "echo"} {
		add(&tar.Header{Name: "bin/" + cmd, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "etc/os-release", Typeflag: tar.TypeReg, Mode: 0o644}, []byte(osRelease))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("busybox layer: %v", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Created = v1.Time{Time: mtime}
	cfg.Config.Env = []string{"PATH=/bin"}
	cfg.Config.Cmd = []string{"sh"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// loadImage loads img into the engine as ref ("base:1") with docker load of
// a docker-archive tar: the simplest way to give the engine a base image, no
// registry needed. FROM ref in a Dockerfile then finds it in the engine's
// image store.
func (e *dockerEngine) loadImage(t *testing.T, env []string, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatalf("load %q: %v", ref, err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatalf("write %s as a docker-archive: %v", ref, err)
	}
	e.mustDocker(t, env, "load", "--input", archive)
}

// putImage pushes img to the registry as repoTag ("base:1") from the test
// process, no BuildKit needed; an engine started with reg.host as an
// insecure registry can then docker pull it, and Dockerfiles can say
// FROM HOST/repo:tag.
func (r *registry) putImage(t *testing.T, repoTag string, img v1.Image) pushedImage {
	t.Helper()
	tag, err := name.NewTag(r.host+"/"+repoTag, name.StrictValidation, name.Insecure)
	if err != nil {
		t.Fatalf("put %q: want repo:tag: %v", repoTag, err)
	}
	if err := remote.Write(tag, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return pushedImage{ref: tag.String(), digest: d.String()}
}

// killShims kills the containerd-shim-runc-v2 processes the containerd at
// sock started (their command line names its socket), which a container
// still running at the end of a test keeps alive.
func killShims(t *testing.T, sock string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
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
		t.Logf("killing containerd shim %d left running", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// unmountUnder unmounts every mount point under dir, deepest first, so that
// the folder can be removed: containerd's overlay snapshots and container
// root filesystems, and what a killed daemon left behind.
func unmountUnder(t *testing.T, dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Logf("read mounts: %v", err)
		return
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
	for _, mp := range mounts {
		if err := syscall.Unmount(mp, 0); err != nil {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
				t.Logf("unmount %s: %v", mp, err)
			}
		}
	}
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
