package sbom

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"slices"
	"sync"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
)

// goBinaryGate spares the Go extractor the ELF files that are not Go
// binaries. Given a C binary, Go's debug/buildinfo searches its whole data
// segment for the build info magic, and debug/elf reads each section header
// with its own read; together they were most of the time a Debian root took
// to catalog. A Go linker writes a .go.buildinfo section, but debug/buildinfo
// does not need its name: without it, it searches the first writable
// segment. So an ELF file is skipped only when its section names lack
// .go.buildinfo and that segment lacks the magic; files that are not ELF, or
// whose headers cannot be read, still go to the extractor.
type goBinaryGate struct {
	filesystem.Extractor
}

func (g goBinaryGate) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	if ra, ok := in.Reader.(io.ReaderAt); ok && !mayHoldGoBuildInfo(ra) {
		return inventory.Inventory{}, nil
	}
	return g.Extractor.Extract(ctx, in)
}

// mayHoldGoBuildInfo says whether debug/buildinfo could find build info in
// the file: false only for an ELF file it can be sure of.
func mayHoldGoBuildInfo(ra io.ReaderAt) bool {
	if has, known := elfHasSection(ra, goBuildInfoSection); has || !known {
		return true
	}
	found, known := elfDataHasGoMagic(ra)
	return found || !known
}

// mayHoldPackages says whether an executable may hold Go build info or
// cargo-auditable data.
func mayHoldPackages(ra io.ReaderAt) bool {
	if has, known := elfHasSection(ra, rustAuditSections...); has || !known {
		return true
	}
	return mayHoldGoBuildInfo(ra)
}

// goBuildInfoSection is where a Go linker writes the build info;
// rustAuditSections are where cargo-auditable writes its dependency list.
const goBuildInfoSection = ".go.buildinfo"

var rustAuditSections = []string{".dep-v0", ".rust-deps-v0", "rdep-v0"}

// goBuildInfoMagic starts the build info blob, which is 16-byte aligned in
// memory (debug/buildinfo's buildInfoMagic and buildInfoAlign).
var goBuildInfoMagic = []byte("\xff Go buildinf:")

const goBuildInfoAlign = 16

// elfMagicChunk is how much of a segment elfDataHasGoMagic reads at once: a
// multiple of goBuildInfoAlign, so an aligned magic never straddles two.
const elfMagicChunk = 64 << 10

// elfDataHasGoMagic searches the file bytes of the first writable, not
// executable PT_LOAD segment for the build info magic where debug/buildinfo
// would find it: that is the segment it searches when no section is named
// .go.buildinfo. known is false when the program headers cannot be read.
func elfDataHasGoMagic(ra io.ReaderAt) (found, known bool) {
	h, ok := readELFHeader(ra)
	if !ok || h.phnum == 0xffff || h.phnum*h.phentsize > maxELFTable {
		return false, false
	}
	minEntry := uint64(32)
	if h.is64 {
		minEntry = 56
	}
	if h.phnum == 0 {
		return false, true
	}
	if h.phentsize < minEntry {
		return false, false
	}
	table := make([]byte, h.phnum*h.phentsize)
	if _, err := ra.ReadAt(table, int64(h.phoff)); err != nil {
		return false, false
	}
	const ptLoad, pfX, pfW = 1, 1, 2
	for i := uint64(0); i < h.phnum; i++ {
		e := table[i*h.phentsize:]
		var typ, flags uint32
		var off, vaddr, filesz uint64
		if h.is64 {
			typ, flags = h.order.Uint32(e), h.order.Uint32(e[4:])
			off, vaddr, filesz = h.order.Uint64(e[8:]), h.order.Uint64(e[16:]), h.order.Uint64(e[32:])
		} else {
			typ, flags = h.order.Uint32(e), h.order.Uint32(e[24:])
			off, vaddr, filesz = uint64(h.order.Uint32(e[4:])), uint64(h.order.Uint32(e[8:])), uint64(h.order.Uint32(e[16:]))
		}
		if typ != ptLoad || flags&(pfX|pfW) != pfW {
			continue
		}
		return segmentHasGoMagic(ra, off, vaddr, filesz), true
	}
	return false, true
}

// segmentHasGoMagic reads the segment at file offset off, loaded at vaddr,
// in chunks (a declared size past the end of the file ends at the end).
func segmentHasGoMagic(ra io.ReaderAt, off, vaddr, filesz uint64) bool {
	skip := (goBuildInfoAlign - vaddr%goBuildInfoAlign) % goBuildInfoAlign
	if filesz <= skip || off > 1<<62 || filesz > 1<<62 {
		return false
	}
	off, filesz = off+skip, filesz-skip
	bp := magicChunks.Get().(*[]byte)
	defer magicChunks.Put(bp)
	buf := *bp
	for pos := uint64(0); pos < filesz; pos += elfMagicChunk {
		chunk := buf[:min(elfMagicChunk, filesz-pos)]
		n, err := ra.ReadAt(chunk, int64(off+pos))
		for i := 0; i+len(goBuildInfoMagic) <= n; i += goBuildInfoAlign {
			if bytes.Equal(chunk[i:i+len(goBuildInfoMagic)], goBuildInfoMagic) {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
	return false
}

// magicChunks are segmentHasGoMagic's buffers: a catalog reads a segment of
// every ELF file of the root, some thousands, and a new 64 KiB each kept the
// collector busy.
var magicChunks = sync.Pool{New: func() any {
	b := make([]byte, elfMagicChunk)
	return &b
}}

// maxELFTable bounds the section header table and the section name table
// read from one file.
const maxELFTable = 1 << 20

// elfHasSection reads an ELF file's section names, in three reads, and says
// whether one of them is among names. known is false when the file is not ELF or its
// section headers cannot be read (stripped, extended numbering, malformed):
// the caller cannot tell, and must not skip the file.
func elfHasSection(ra io.ReaderAt, names ...string) (has, known bool) {
	h, ok := readELFHeader(ra)
	if !ok {
		return false, false
	}
	order := h.order
	nameOff, offOff, sizeOff := 0, 0x10, 0x14
	minEntry := uint64(sizeOff + 4)
	if h.is64 {
		nameOff, offOff, sizeOff = 0, 0x18, 0x20
		minEntry = uint64(sizeOff + 8)
	}
	shoff, shentsize, shnum, shstrndx := h.shoff, h.shentsize, h.shnum, h.shstrndx
	if shoff == 0 || shnum == 0 || shentsize < minEntry || shstrndx >= shnum || shnum*shentsize > maxELFTable {
		return false, false
	}
	table := make([]byte, shnum*shentsize)
	if _, err := ra.ReadAt(table, int64(shoff)); err != nil {
		return false, false
	}
	field := func(entry []byte, at int) uint64 {
		if !h.is64 {
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

// elfHeader holds the fields of an ELF file header that locate its section
// and program header tables.
type elfHeader struct {
	is64                              bool
	order                             binary.ByteOrder
	shoff, shentsize, shnum, shstrndx uint64
	phoff, phentsize, phnum           uint64
}

// readELFHeader reads the file header; ok is false when the file is not ELF
// or of a class or byte order it does not know.
func readELFHeader(ra io.ReaderAt) (elfHeader, bool) {
	hdr := make([]byte, 64)
	if _, err := ra.ReadAt(hdr, 0); err != nil && err != io.EOF {
		return elfHeader{}, false
	}
	if !bytes.HasPrefix(hdr, []byte("\x7fELF")) {
		return elfHeader{}, false
	}
	var h elfHeader
	switch hdr[5] {
	case 1:
		h.order = binary.LittleEndian
	case 2:
		h.order = binary.BigEndian
	default:
		return elfHeader{}, false
	}
	u16 := func(at int) uint64 { return uint64(h.order.Uint16(hdr[at:])) }
	switch hdr[4] {
	case 1: // ELF32
		h.phoff, h.shoff = uint64(h.order.Uint32(hdr[0x1c:])), uint64(h.order.Uint32(hdr[0x20:]))
		h.phentsize, h.phnum = u16(0x2a), u16(0x2c)
		h.shentsize, h.shnum, h.shstrndx = u16(0x2e), u16(0x30), u16(0x32)
	case 2: // ELF64
		h.is64 = true
		h.phoff, h.shoff = h.order.Uint64(hdr[0x20:]), h.order.Uint64(hdr[0x28:])
		h.phentsize, h.phnum = u16(0x36), u16(0x38)
		h.shentsize, h.shnum, h.shstrndx = u16(0x3a), u16(0x3c), u16(0x3e)
	default:
		return elfHeader{}, false
	}
	return h, true
}
