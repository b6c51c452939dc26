package sbom

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"slices"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
)

// goBinaryGate spares the Go extractor the ELF files that are not Go
// binaries. Given a C binary, Go's debug/buildinfo searches its whole data
// segment for the build info magic, and debug/elf reads each section header
// with its own read; together they were most of the time a Debian root took
// to catalog. A Go linker always writes a .go.buildinfo section, so an ELF
// file whose section names lack it is skipped. Files that are not ELF, or
// whose section headers cannot be read, still go to the extractor.
type goBinaryGate struct {
	filesystem.Extractor
}

func (g goBinaryGate) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	if ra, ok := in.Reader.(io.ReaderAt); ok {
		if has, known := elfHasSection(ra, goBuildInfoSection); known && !has {
			return inventory.Inventory{}, nil
		}
	}
	return g.Extractor.Extract(ctx, in)
}

// goBuildInfoSection is where a Go linker writes the build info;
// rustAuditSections are where cargo-auditable writes its dependency list.
const goBuildInfoSection = ".go.buildinfo"

var rustAuditSections = []string{".dep-v0", ".rust-deps-v0", "rdep-v0"}

// maxELFTable bounds the section header table and the section name table
// read from one file.
const maxELFTable = 1 << 20

// elfHasSection reads an ELF file's section names, in three reads, and says
// whether one of them is among names. known is false when the file is not ELF or its
// section headers cannot be read (stripped, extended numbering, malformed):
// the caller cannot tell, and must not skip the file.
func elfHasSection(ra io.ReaderAt, names ...string) (has, known bool) {
	hdr := make([]byte, 64)
	if _, err := ra.ReadAt(hdr, 0); err != nil && err != io.EOF {
		return false, false
	}
	if !bytes.HasPrefix(hdr, []byte("\x7fELF")) {
		return false, false
	}
	var order binary.ByteOrder
	switch hdr[5] {
	case 1:
		order = binary.LittleEndian
	case 2:
		order = binary.BigEndian
	default:
		return false, false
	}
	var shoff, shentsize, shnum, shstrndx uint64
	var nameOff, offOff, sizeOff int
	switch hdr[4] {
	case 1: // ELF32
		shoff = uint64(order.Uint32(hdr[0x20:]))
		shentsize, shnum, shstrndx = uint64(order.Uint16(hdr[0x2e:])), uint64(order.Uint16(hdr[0x30:])), uint64(order.Uint16(hdr[0x32:]))
		nameOff, offOff, sizeOff = 0, 0x10, 0x14
	case 2: // ELF64
		shoff = order.Uint64(hdr[0x28:])
		shentsize, shnum, shstrndx = uint64(order.Uint16(hdr[0x3a:])), uint64(order.Uint16(hdr[0x3c:])), uint64(order.Uint16(hdr[0x3e:]))
		nameOff, offOff, sizeOff = 0, 0x18, 0x20
	default:
		return false, false
	}
	minEntry := uint64(sizeOff + 4)
	if hdr[4] == 2 {
		minEntry = uint64(sizeOff + 8)
	}
	if shoff == 0 || shnum == 0 || shentsize < minEntry || shstrndx >= shnum || shnum*shentsize > maxELFTable {
		return false, false
	}
	table := make([]byte, shnum*shentsize)
	if _, err := ra.ReadAt(table, int64(shoff)); err != nil {
		return false, false
	}
	field := func(entry []byte, at int) uint64 {
		if hdr[4] == 1 {
			return uint64(order.Uint32(entry[at:]))
		}
		return order.Uint64(entry[at:])
	}
	strtab := table[shstrndx*shentsize:]
	strOff, strSize := field(strtab, offOff), field(strtab, sizeOff)
	if strSize == 0 || strSize > maxELFTable {
		return false, false
	}
	strtabData := make([]byte, strSize)
	if _, err := ra.ReadAt(strtabData, int64(strOff)); err != nil {
		return false, false
	}
	for i := uint64(0); i < shnum; i++ {
		at := uint64(order.Uint32(table[i*shentsize+uint64(nameOff):]))
		if at >= strSize {
			continue
		}
		n := strtabData[at:]
		if end := bytes.IndexByte(n, 0); end >= 0 {
			n = n[:end]
		}
		if slices.Contains(names, string(n)) {
			return true, true
		}
	}
	return false, true
}
