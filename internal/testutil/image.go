package testutil

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The base images are made in the test process with go-containerregistry,
// for this machine's platform: no daemon is needed to make one, and one
// image goes as it is into a registry (Registry.Push), an OCI layout
// (WriteLayout) or an engine (DockerEngine.Load).

// baseTime is the time of the base images' files and configs, so that an
// image made twice has one digest.
var baseTime = time.Unix(1700000000, 0)

// Image is an image of layers over config, for linux on this machine's
// architecture.
func Image(t testing.TB, config v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Created = v1.Time{Time: baseTime}
	cfg.Config = config
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// BusyboxLayer holds the static busybox of Debian's busybox-static as
// /bin/busybox, with sh, cat and echo linked to it, /tmp, and an
// /etc/os-release with the given content.
func BusyboxLayer(t testing.TB, osRelease string) v1.Layer {
	t.Helper()
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		RequireE2E(t, "no /bin/busybox (apt-get install busybox-static): %v", err)
	}
	if !IsStaticELF(busybox) {
		RequireE2E(t, "/bin/busybox is not the static one (apt-get install busybox-static)")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Size = baseTime, int64(len(body))
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
	return layer
}

// BusyboxImage is the busybox base: BusyboxLayer, with PATH=/bin and sh as
// its command.
func BusyboxImage(t testing.TB, osRelease string) v1.Image {
	t.Helper()
	return Image(t, v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}}, BusyboxLayer(t, osRelease))
}

// DirLayer is a layer holding the folder root as the folder at (a path in
// the image, "" for its root), leaving out the entries skip names (paths
// relative to root, slash-separated). Owners, modes and links are kept;
// sockets and other special files are left out.
func DirLayer(t testing.TB, root, at string, skip func(rel string) bool) v1.Layer {
	t.Helper()
	write := func(w io.Writer) error {
		tw := tar.NewWriter(w)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, path)
			if err != nil || rel == "." {
				return err
			}
			rel = filepath.ToSlash(rel)
			if skip != nil && skip(rel) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() && !info.IsDir() && info.Mode()&fs.ModeSymlink == 0 {
				return nil
			}
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				if link, err = os.Readlink(path); err != nil {
					return err
				}
			}
			h, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return err
			}
			h.Name = strings.TrimPrefix(at+"/"+rel, "/")
			if info.IsDir() {
				h.Name += "/"
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				h.Uid, h.Gid = int(st.Uid), int(st.Gid)
			}
			h.Uname, h.Gname = "", ""
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		})
		if err != nil {
			return err
		}
		return tw.Close()
	}
	// Written once to a file: the layer is read for its digest and again
	// for its content.
	file := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		f.Close()
		t.Fatalf("layer of %s: %v", root, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromFile(file)
	if err != nil {
		t.Fatalf("layer of %s: %v", root, err)
	}
	return layer
}

// DebianImage is the debootstrap root of SECURE_BUILD_TEST_ROOTFS as a
// one-layer image, without what a Debian image does not carry: device
// nodes, the downloaded .debs, the scripts' marker.
func DebianImage(t testing.TB) v1.Image {
	t.Helper()
	layer := DirLayer(t, DebianRoot(t), "", func(rel string) bool {
		switch {
		case rel == ".secure-build-complete":
			return true
		case strings.HasPrefix(rel, "dev/"), strings.HasPrefix(rel, "proc/"), strings.HasPrefix(rel, "sys/"):
			return true
		}
		return strings.HasPrefix(rel, "var/cache/apt/archives/") && strings.HasSuffix(rel, ".deb")
	})
	return Image(t, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"bash"},
	}, layer)
}

// OCILayout is an image written as an OCI layout folder.
type OCILayout struct {
	Dir    string
	Digest string // the image manifest's, sha256:...
}

// WriteLayout writes img as an OCI layout in a new folder.
func WriteLayout(t testing.TB, img v1.Image) OCILayout {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return OCILayout{Dir: dir, Digest: d.String()}
}

// ContextArgs are the buildctl arguments that make this image the named
// context name (FROM name in a Dockerfile).
func (l OCILayout) ContextArgs(name string) []string {
	return []string{
		"--oci-layout", name + "=" + l.Dir,
		"--opt", "context:" + name + "=oci-layout://" + name + "@" + l.Digest,
	}
}
