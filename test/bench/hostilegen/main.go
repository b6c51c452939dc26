// Command hostilegen writes the hostile corpus of test/bench/hostile.sh:
// small files that declare, or inflate to, far more than they hold. Each
// case is a root filesystem (64 copies of the bomb where a root can hold
// many), an image tar, or a policy file.
//
//	go run ./test/bench/hostilegen -out DIR
package main

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/secure-build/secure-build/internal/hostiletest"
	"github.com/secure-build/secure-build/internal/rpmdbtest"
)

// copies is how many copies of a bomb one root holds: the catalog reads up
// to 2*GOMAXPROCS files at once, so memory per file multiplies.
const copies = 64

func main() {
	out := flag.String("out", "", "folder to write the corpus into (made if missing)")
	flag.Parse()
	if *out == "" {
		log.Fatal("usage: hostilegen -out DIR")
	}
	cases := []struct {
		name  string
		write func(dir string) error
	}{
		{"nested-jar", writeNestedJars},
		{"cargo-zlib", writeCargoBombs},
		{"slow-egg", writeSlowEggs},
		{"wheel-bomb", writeWheelBombs},
		{"dpkg-huge", writeHugeStatus},
		{"tar-2gib", writeTarBomb},
		{"yaml-alias", writeAliasBomb},
		{"rpm-il", writeRPMIndexLength},
	}
	for _, c := range cases {
		dir := filepath.Join(*out, c.name)
		if _, err := os.Stat(filepath.Join(dir, ".done")); err == nil {
			continue // written by an earlier run
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
		if err := c.write(dir); err != nil {
			log.Fatalf("write %s: %v", c.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", dir)
	}
}

// writeCopies writes data as copies files named by pattern (with %02d) under
// root, plus a sentinel npm package that must still be found.
func writeCopies(root, pattern string, data []byte, mode os.FileMode) error {
	for i := range copies {
		p := filepath.Join(root, fmt.Sprintf(pattern, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
	}
	return writeSentinel(root)
}

func writeSentinel(root string) error {
	p := filepath.Join(root, "srv/node_modules/sentinel/package.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(`{"name": "sentinel", "version": "1.0.0"}`), 0o644)
}

// writeNestedJars: a jar of a few hundred bytes whose nested jar's directory
// declares a jar of 1023 MiB deflated from 30 MiB, with two bytes behind it.
func writeNestedJars(dir string) error {
	jar, err := hostiletest.LyingNestedJar()
	if err != nil {
		return err
	}
	return writeCopies(filepath.Join(dir, "root"), "opt/lib/bomb%02d.jar", jar, 0o644)
}

// writeCargoBombs: a 1 MB ELF executable whose .dep-v0 section is a zlib
// stream inflating to 1 GiB.
func writeCargoBombs(dir string) error {
	bomb, err := hostiletest.DeflateRepeat([]byte(`{"packages":[{"name":"x","version":"1`), make([]byte, 1<<20), 1024)
	if err != nil {
		return err
	}
	exe, err := hostiletest.ELFWithSection(".dep-v0", hostiletest.ZlibStream(bomb.Data, 0))
	if err != nil {
		return err
	}
	return writeCopies(filepath.Join(dir, "root"), "usr/local/bin/rust%02d", exe, 0o755)
}

// writeSlowEggs: an egg of about 160 KB whose directory lists one deflated
// PKG-INFO of 99 MiB (under osv-scalibr's 100 MiB per file) a thousand
// times: each listing points at the same bytes.
func writeSlowEggs(dir string) error {
	var text bytes.Buffer
	text.WriteString("Metadata-Version: 1.1\nName: slow\nVersion: 1.0\n")
	line := " " + strings.Repeat("a", 1022) + "\n"
	for text.Len() < 99<<20 {
		text.WriteString(line)
	}
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.BestCompression)
	if err != nil {
		return err
	}
	fw.Write(text.Bytes())
	fw.Close()
	egg := overlappingZip("EGG-INFO/PKG-INFO", deflated.Bytes(), crc32.ChecksumIEEE(text.Bytes()), uint64(text.Len()), 1000)
	return writeCopies(filepath.Join(dir, "root"), "usr/lib/python3/dist-packages/slow%02d-1.0-py3.11.egg", egg, 0o644)
}

// overlappingZip writes one local entry and a central directory that lists
// it count times.
func overlappingZip(entry string, deflated []byte, crc uint32, size uint64, count int) []byte {
	var buf bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { binary.Write(&buf, le, v) }
	w(uint32(0x04034b50))
	w([]uint16{20, 0, 8, 0, 0})
	w([]uint32{crc, uint32(len(deflated)), uint32(size)})
	w([]uint16{uint16(len(entry)), 0})
	buf.WriteString(entry)
	buf.Write(deflated)
	cdStart := buf.Len()
	for range count {
		w(uint32(0x02014b50))
		w([]uint16{20, 20, 0, 8, 0, 0})
		w([]uint32{crc, uint32(len(deflated)), uint32(size)})
		w([]uint16{uint16(len(entry)), 0, 0, 0, 0})
		w([]uint32{0, 0})
		buf.WriteString(entry)
	}
	cdSize := buf.Len() - cdStart
	w(uint32(0x06054b50))
	w([]uint16{0, 0, uint16(count), uint16(count)})
	w([]uint32{uint32(cdSize), uint32(cdStart)})
	w(uint16(0))
	return buf.Bytes()
}

// writeWheelBombs: a wheel whose METADATA inflates to 2 GiB of
// continuation lines.
func writeWheelBombs(dir string) error {
	head := "Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n"
	chunk := strings.Repeat(" "+strings.Repeat("a", 1022)+"\n", 1024)
	wheel, err := hostiletest.ZipBomb(hostiletest.Bomb{Name: "bomb-1.0.dist-info/METADATA", Head: head, Chunk: chunk, Count: 2048})
	if err != nil {
		return err
	}
	return writeCopies(filepath.Join(dir, "root"), "usr/lib/python3/dist-packages/bomb%02d-1.0-py3-none-any.whl", wheel, 0o644)
}

// writeHugeStatus: a dpkg status of 8 GiB, sparse after its first record.
func writeHugeStatus(dir string) error {
	root := filepath.Join(dir, "root")
	if err := writeSentinel(root); err != nil {
		return err
	}
	p := filepath.Join(root, "var/lib/dpkg/status")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString("Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n"); err != nil {
		return err
	}
	return f.Truncate(8 << 30)
}

// writeTarBomb: a docker-archive tar of about 2 MB whose one layer holds a
// dpkg status that inflates to 2 GiB.
func writeTarBomb(dir string) error {
	gz := filepath.Join(dir, "layer.tar.gz")
	f, err := os.Create(gz)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	head := "Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n"
	const size = 2 << 30
	if err := tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	io.WriteString(tw, head)
	if _, err := io.CopyN(tw, zeros{}, size-int64(len(head))); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromFile(gz)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference("hostile/tar-bomb:1")
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(filepath.Join(dir, "image.tar"), ref, img); err != nil {
		return err
	}
	return os.Remove(gz)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// writeAliasBomb: a policy file of nested YAML aliases (nine levels of nine)
// and a small root to scan with it.
func writeAliasBomb(dir string) error {
	var b strings.Builder
	b.WriteString("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return writeSentinel(filepath.Join(dir, "root"))
}

// writeRPMIndexLength: an rpm database at each of the nine paths the rpm
// extractor reads, in the format its name says (sqlite in WAL mode, NDB,
// Berkeley DB), holding one package and then 64 headers of a few hundred
// bytes that declare 0x7fffffff index entries: 32 GiB to go-rpmdb.
func writeRPMIndexLength(dir string) error {
	root := filepath.Join(dir, "root")
	good := rpmdbtest.Header(rpmdbtest.Package{Name: "zlib", Version: "1.2.11", Release: "40.el9", Arch: "x86_64"})
	bomb := rpmdbtest.WithIndexLength(rpmdbtest.Header(rpmdbtest.Package{Name: "bomb", Version: "1", Release: "1", Arch: "x86_64"}), 0x7fffffff)
	blobs := [][]byte{good}
	for range copies {
		blobs = append(blobs, bomb)
	}
	for _, d := range []string{"var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"} {
		db := filepath.Join(root, d)
		if err := rpmdbtest.WriteWALBlobs(db, blobs...); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(db, "Packages.db"), rpmdbtest.NDB(blobs...), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(db, "Packages"), rpmdbtest.BDB(blobs...), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=rocky\nVERSION_ID=9.3\n"), 0o644); err != nil {
		return err
	}
	return writeSentinel(root)
}
