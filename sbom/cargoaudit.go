package sbom

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
)

// Bounds on cargo-auditable data: the section as stored, and the JSON it
// inflates to. The list of a project with a thousand crates is a few hundred
// KiB of JSON.
const (
	maxRustDepSection = 4 << 20
	maxRustDepJSON    = 4 << 20
)

// cargoAuditGate finds the cargo-auditable section of an executable and
// inflates it with bounds before go-rustaudit reads it: go-rustaudit
// inflates the section with io.ReadAll, and a 1 MB ELF file whose section
// was a zlib bomb made it take 2.7 GB. It also allocates the sizes a wasm
// file declares. The extractor sees only a file whose section fits the
// bounds; a file that is not an executable, or holds no section, it is
// spared (it would find nothing, after reading every section header).
type cargoAuditGate struct {
	filesystem.Extractor
}

// FileRequired asks osv-scalibr's extractor only about the files it could
// want: it stats every file it is shown before it looks at the name, and
// most files of a root (documentation, package.json) are ruled out by
// their names.
func (g cargoAuditGate) FileRequired(api filesystem.FileAPI) bool {
	return filesystem.IsInterestingExecutable(api) && g.Extractor.FileRequired(api)
}

func (g cargoAuditGate) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	ra, ok := in.Reader.(io.ReaderAt)
	if !ok || in.Info == nil {
		return g.Extractor.Extract(ctx, in)
	}
	section, err := rustDepSection(ra, in.Info.Size())
	if err != nil {
		return inventory.Inventory{}, fmt.Errorf("read %s: %w", slashPath(in.Path), err)
	}
	if section == nil {
		return inventory.Inventory{}, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(section))
	if err != nil {
		return g.Extractor.Extract(ctx, in) // it says what is wrong with the section
	}
	defer zr.Close()
	if _, err := readAllBounded(zr, "its cargo-auditable section", maxRustDepJSON); err != nil {
		return inventory.Inventory{}, fmt.Errorf("read %s: %w", slashPath(in.Path), err)
	}
	return g.Extractor.Extract(ctx, in)
}

// rustDepSection returns the cargo-auditable section, read with a bound,
// as go-rustaudit chooses it in each format; nil when there is none or the
// file is not an executable go-rustaudit reads.
func rustDepSection(ra io.ReaderAt, size int64) ([]byte, error) {
	ident := make([]byte, 16)
	if n, _ := ra.ReadAt(ident, 0); n < len(ident) {
		return nil, nil
	}
	var open func(name string) (io.Reader, bool)
	var names []string
	switch {
	case bytes.HasPrefix(ident, []byte("\x7fELF")):
		has, known := elfHasSection(ra, rustAuditSections...)
		if known && !has {
			return nil, nil
		}
		f, err := elf.NewFile(ra)
		if err != nil && has {
			// It names a dependency section that cannot be read.
			return nil, fmt.Errorf("its cargo-auditable section: %w", err)
		}
		if err != nil {
			return nil, nil
		}
		names = []string{".dep-v0", ".rust-deps-v0"}
		open = func(name string) (io.Reader, bool) {
			s := f.Section(name)
			if s == nil {
				return nil, false
			}
			return s.Open(), true // inflated as read when the section is compressed
		}
	case bytes.HasPrefix(ident, []byte("MZ")):
		f, err := pe.NewFile(ra)
		if err != nil {
			return nil, nil
		}
		names = []string{".dep-v0", "rdep-v0"}
		open = func(name string) (io.Reader, bool) {
			s := f.Section(name)
			if s == nil {
				return nil, false
			}
			return s.Open(), true
		}
	case bytes.HasPrefix(ident, []byte("\xfe\xed\xfa")) || bytes.HasPrefix(ident[1:], []byte("\xfa\xed\xfe")) || bytes.HasPrefix(ident, []byte("\xca\xfe\xba\xbe")):
		f, err := macho.NewFile(ra)
		if err != nil {
			return nil, nil
		}
		names = []string{".dep-v0", "rust-deps-v0"}
		open = func(name string) (io.Reader, bool) {
			s := f.Section(name)
			if s == nil {
				return nil, false
			}
			return s.Open(), true
		}
	case bytes.HasPrefix(ident, []byte("\x00asm\x01\x00\x00\x00")):
		return wasmRustDepSection(ra, size)
	default:
		return nil, nil
	}
	for _, name := range names {
		if r, ok := open(name); ok {
			return readAllBounded(r, "its section "+name, maxRustDepSection)
		}
	}
	return nil, nil
}

// wasmRustDepSection walks a WebAssembly module's sections to the custom
// section .dep-v0. A section, or a section name, that claims more bytes than
// it holds ends the walk with nothing: go-rustaudit would allocate what it
// claims, then fail.
func wasmRustDepSection(ra io.ReaderAt, size int64) ([]byte, error) {
	const name = ".dep-v0"
	off := int64(8)
	for off < size {
		head := make([]byte, 1+2*binary.MaxVarintLen32)
		n, _ := ra.ReadAt(head, off)
		if n < 2 {
			return nil, nil
		}
		sectionSize, k := binary.Uvarint(head[1:n])
		if k <= 0 || sectionSize > uint64(size) {
			return nil, nil
		}
		body := off + 1 + int64(k)
		next := body + int64(sectionSize)
		if next > size {
			return nil, nil
		}
		off = next
		if head[0] != 0 {
			continue
		}
		nameHead := head[1+k : n]
		nameSize, m := binary.Uvarint(nameHead)
		if m <= 0 || uint64(m)+nameSize > sectionSize {
			return nil, nil
		}
		if nameSize != uint64(len(name)) {
			continue
		}
		got := make([]byte, len(name))
		if _, err := ra.ReadAt(got, body+int64(m)); err != nil || string(got) != name {
			continue
		}
		data := body + int64(m) + int64(nameSize)
		return readAllBounded(io.NewSectionReader(ra, data, next-data), "its section "+name, maxRustDepSection)
	}
	return nil, nil
}
