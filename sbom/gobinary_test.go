package sbom

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// makeELF returns a small ELF file of the given class (elf.ELFCLASS32 or
// ELFCLASS64) and byte order whose section headers name sections, plus the
// section name table.
func makeELF(t testing.TB, class elf.Class, order binary.ByteOrder, sections ...string) []byte {
	t.Helper()
	names := []byte{0}
	nameAt := []uint32{0}
	for _, s := range append(slices.Clone(sections), ".shstrtab") {
		nameAt = append(nameAt, uint32(len(names)))
		names = append(names, s...)
		names = append(names, 0)
	}
	shnum := len(nameAt)
	var buf bytes.Buffer
	data := elf.ELFDATA2LSB
	if order == binary.BigEndian {
		data = elf.ELFDATA2MSB
	}
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(class), byte(data), byte(elf.EV_CURRENT)}
	write := func(v any) {
		if err := binary.Write(&buf, order, v); err != nil {
			t.Fatal(err)
		}
	}
	if class == elf.ELFCLASS64 {
		const hdr, ent = 64, 64
		namesOff := uint64(hdr)
		shoff := namesOff + uint64(len(names))
		write(elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
			Shoff: shoff, Ehsize: hdr, Shentsize: ent, Shnum: uint16(shnum), Shstrndx: uint16(shnum - 1)})
		buf.Write(names)
		for i, at := range nameAt {
			s := elf.Section64{Name: at}
			switch {
			case i == shnum-1:
				s.Type, s.Off, s.Size = uint32(elf.SHT_STRTAB), namesOff, uint64(len(names))
			case i > 0:
				s.Type = uint32(elf.SHT_PROGBITS)
			}
			write(s)
		}
	} else {
		const hdr, ent = 52, 40
		namesOff := uint32(hdr)
		shoff := namesOff + uint32(len(names))
		write(elf.Header32{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_386), Version: uint32(elf.EV_CURRENT),
			Shoff: shoff, Ehsize: hdr, Shentsize: ent, Shnum: uint16(shnum), Shstrndx: uint16(shnum - 1)})
		buf.Write(names)
		for i, at := range nameAt {
			s := elf.Section32{Name: at}
			switch {
			case i == shnum-1:
				s.Type, s.Off, s.Size = uint32(elf.SHT_STRTAB), namesOff, uint32(len(names))
			case i > 0:
				s.Type = uint32(elf.SHT_PROGBITS)
			}
			write(s)
		}
	}
	return buf.Bytes()
}

func TestElfHasSection(t *testing.T) {
	goSections := []string{".text", ".rodata", ".go.buildinfo", ".noptrdata", ".data"}
	cSections := []string{".interp", ".text", ".rodata", ".data", ".bss", ".gnu_debuglink"}
	tests := []struct {
		name       string
		file       []byte
		has, known bool
	}{
		{"go elf64 le", makeELF(t, elf.ELFCLASS64, binary.LittleEndian, goSections...), true, true},
		{"c elf64 le", makeELF(t, elf.ELFCLASS64, binary.LittleEndian, cSections...), false, true},
		{"go elf32 be", makeELF(t, elf.ELFCLASS32, binary.BigEndian, goSections...), true, true},
		{"c elf32 be", makeELF(t, elf.ELFCLASS32, binary.BigEndian, cSections...), false, true},
		{"go elf32 le", makeELF(t, elf.ELFCLASS32, binary.LittleEndian, goSections...), true, true},
		{"prefix is not a match", makeELF(t, elf.ELFCLASS64, binary.LittleEndian, ".go.buildinfo.x", ".go.buildinf"), false, true},
		{"no sections", makeELF(t, elf.ELFCLASS64, binary.LittleEndian), false, true},
		{"not elf", []byte("#!/bin/sh\necho hello\n"), false, false},
		{"empty", nil, false, false},
		{"header only", makeELF(t, elf.ELFCLASS64, binary.LittleEndian, goSections...)[:64], false, false},
		{"bad class", func() []byte {
			b := makeELF(t, elf.ELFCLASS64, binary.LittleEndian, goSections...)
			b[elf.EI_CLASS] = 9
			return b
		}(), false, false},
		{"bad byte order", func() []byte {
			b := makeELF(t, elf.ELFCLASS64, binary.LittleEndian, goSections...)
			b[elf.EI_DATA] = 0
			return b
		}(), false, false},
		{"section table cut short", func() []byte {
			b := makeELF(t, elf.ELFCLASS64, binary.LittleEndian, goSections...)
			return b[:len(b)-1]
		}(), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			has, known := elfHasSection(bytes.NewReader(tt.file), ".go.buildinfo")
			if has != tt.has || known != tt.known {
				t.Errorf("elfHasSection = %v, %v; want %v, %v", has, known, tt.has, tt.known)
			}
			// When it can tell, debug/elf agrees.
			if f, err := elf.NewFile(bytes.NewReader(tt.file)); err == nil && known {
				if want := f.Section(".go.buildinfo") != nil; has != want {
					t.Errorf("elfHasSection says %v, debug/elf says %v", has, want)
				}
			}
		})
	}
}

// TestElfHasSectionRealBinary reads the test binary, built by the Go linker.
func TestElfHasSectionRealBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("no path to the test binary: %v", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "\x7fELF" {
		t.Skip("the test binary is not ELF on this platform")
	}
	if has, known := elfHasSection(f, ".go.buildinfo"); !has || !known {
		t.Errorf("elfHasSection(test binary) = %v, %v; want true, true", has, known)
	}
	if has, known := elfHasSection(f, ".no.such.section"); has || !known {
		t.Errorf("elfHasSection(test binary, missing) = %v, %v; want false, true", has, known)
	}
}

// TestCatalogSkipsNonGoELF: an executable ELF that is not a Go binary gives
// no package and no warning.
func TestCatalogSkipsNonGoELF(t *testing.T) {
	root := t.TempDir()
	writeBytes(t, root, "usr/bin/ctool", makeELF(t, elf.ELFCLASS64, binary.LittleEndian, ".interp", ".text", ".data"), 0o755)
	writeBytes(t, root, "usr/bin/script", []byte("#!/bin/sh\nexit 0\n"), 0o755)
	s := mustCatalog(t, root)
	if len(s.Packages) != 0 || len(s.Incomplete) != 0 {
		t.Errorf("packages %q, warnings %q; want none", purls(s), s.Incomplete)
	}
}

// goTool returns the go command that runs these tests, or skips.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	t.Skip("no go command on PATH to build a Go binary with")
	return ""
}

// xTextVersion is a real golang.org/x/text release for the test binary to
// depend on.
const xTextVersion = "v0.14.0"

// buildGoBinary builds a tiny program that uses golang.org/x/text and
// returns its path and the toolchain version that built it.
func buildGoBinary(t *testing.T) (string, string) {
	t.Helper()
	goCmd := goTool(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.22\n\nrequire golang.org/x/text " + xTextVersion + "\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.English) }\n",
	})
	env := append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false -mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	out := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command(goCmd, "build", "-trimpath", "-o", out, ".")
	cmd.Dir, cmd.Env = src, env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build a Go binary requiring golang.org/x/text@%s (module proxy unreachable?): %v\n%s", xTextVersion, err, b)
	}
	cmd = exec.Command(goCmd, "env", "GOVERSION")
	cmd.Env = env
	v, err := cmd.Output()
	if err != nil {
		t.Fatalf("go env GOVERSION: %v", err)
	}
	return out, strings.TrimSpace(string(v))
}

func TestCatalogGoBinary(t *testing.T) {
	bin, goVersion := buildGoBinary(t)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeBytes(t, root, "usr/local/bin/hello", b, 0o755)
	writeBytes(t, root, "opt/hello/hello", b, 0o755) // the same binary twice
	s := mustCatalog(t, root)

	stdlibVersion := "v" + strings.TrimPrefix(goVersion, "go")
	want := []struct{ purl, name, version string }{
		{"pkg:golang/example.com/hello@%28devel%29", "example.com/hello", "(devel)"},
		{"pkg:golang/golang.org/x/text@" + xTextVersion, "golang.org/x/text", xTextVersion},
		{"pkg:golang/stdlib@" + stdlibVersion, "stdlib", stdlibVersion},
	}
	for _, w := range want {
		p := requirePackage(t, s, w.purl)
		if p.Name != w.name || p.Version != w.version || p.Type != "golang" {
			t.Errorf("%s: name %q version %q type %q, want %q %q golang", w.purl, p.Name, p.Version, p.Type, w.name, w.version)
		}
		if wantLoc := []string{"/opt/hello/hello", "/usr/local/bin/hello"}; !slices.Equal(p.Locations, wantLoc) {
			t.Errorf("%s: locations %q, want %q", w.purl, p.Locations, wantLoc)
		}
	}
	if len(s.Packages) != len(want) {
		t.Errorf("got %q, want %d packages", purls(s), len(want))
	}
	if len(s.Incomplete) != 0 {
		t.Errorf("incomplete: %q", s.Incomplete)
	}
}

// FuzzElfHasSection: never panics, never reads beyond its bounds, and
// when it says it can tell, debug/elf agrees.
func FuzzElfHasSection(f *testing.F) {
	f.Add(makeELF(f, elf.ELFCLASS64, binary.LittleEndian, ".text", ".go.buildinfo"))
	f.Add(makeELF(f, elf.ELFCLASS32, binary.BigEndian, ".text", ".data"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		has, known := elfHasSection(bytes.NewReader(data), ".go.buildinfo")
		if has && !known {
			t.Fatalf("has without known")
		}
		if !known {
			return
		}
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		if want := ef.Section(".go.buildinfo") != nil; has != want {
			t.Errorf("elfHasSection = %v, debug/elf finds the section: %v", has, want)
		}
	})
}
