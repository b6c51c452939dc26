// Package hostiletest builds hostile inputs for sbom's tests and for the
// corpus of test/bench/hostile.sh: archives and executables of a few
// hundred KiB that declare, or inflate to, gigabytes.
package hostiletest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Deflated is a raw deflate stream with the CRC-32 and size of what it
// inflates to.
type Deflated struct {
	Data  []byte
	CRC32 uint32
	Size  uint64
}

// DeflateRepeat is a raw deflate stream of head followed by count copies of
// chunk, made without ever compressing the whole: each copy of chunk is the
// same sync-flushed block, which refers to nothing before it. A few hundred
// KiB inflate to gigabytes.
func DeflateRepeat(head, chunk []byte, count int) (Deflated, error) {
	block := func(data []byte, final bool) ([]byte, error) {
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, flate.BestCompression)
		if err != nil {
			return nil, err
		}
		w.Write(data) // a bytes.Buffer takes every write
		if final {
			err = w.Close()
		} else {
			err = w.Flush()
		}
		return buf.Bytes(), err
	}
	headBlock, err := block(head, false)
	if err != nil {
		return Deflated{}, fmt.Errorf("deflate: %w", err)
	}
	chunkBlock, err := block(chunk, false)
	if err != nil {
		return Deflated{}, fmt.Errorf("deflate: %w", err)
	}
	last, err := block(nil, true)
	if err != nil {
		return Deflated{}, fmt.Errorf("deflate: %w", err)
	}
	var out bytes.Buffer
	out.Write(headBlock)
	crc := crc32.ChecksumIEEE(head)
	for range count {
		out.Write(chunkBlock)
		crc = crc32.Update(crc, crc32.IEEETable, chunk)
	}
	out.Write(last)
	return Deflated{out.Bytes(), crc, uint64(len(head)) + uint64(count)*uint64(len(chunk))}, nil
}

// File is one entry of a zip archive.
type File struct {
	Name string
	Data []byte
}

// Zip is a zip archive (a jar, a wheel) holding files, deflated, in order.
func Zip(files ...File) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.Name)
		if err != nil {
			return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close zip: %w", err)
	}
	return buf.Bytes(), nil
}

// Bomb is a zip entry that inflates to Head plus Count copies of Chunk.
type Bomb struct {
	Name, Head, Chunk string
	Count             int
}

// ZipBomb is a zip archive whose entries are deflate bombs, each with its
// true CRC-32 and size, so that only the inflated bytes give it away.
func ZipBomb(bombs ...Bomb) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, b := range bombs {
		d, err := DeflateRepeat([]byte(b.Head), []byte(b.Chunk), b.Count)
		if err != nil {
			return nil, fmt.Errorf("zip bomb %s: %w", b.Name, err)
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: b.Name, Method: zip.Deflate, CRC32: d.CRC32, CompressedSize64: uint64(len(d.Data)), UncompressedSize64: d.Size})
		if err != nil {
			return nil, fmt.Errorf("zip bomb %s: %w", b.Name, err)
		}
		if _, err := w.Write(d.Data); err != nil {
			return nil, fmt.Errorf("zip bomb %s: %w", b.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close zip: %w", err)
	}
	return buf.Bytes(), nil
}

// LyingNestedJar is a jar of a few hundred bytes holding lib/inner.jar,
// whose directory declares lib/bomb.jar of 1023 MiB (just under the old
// bound on nested archives) deflated from 30 MiB, with only two bytes of
// data behind the claim.
func LyingNestedJar() ([]byte, error) {
	var inner bytes.Buffer
	zw := zip.NewWriter(&inner)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "lib/bomb.jar", Method: zip.Deflate, CompressedSize64: 30 << 20, UncompressedSize64: 1<<30 - 1<<20})
	if err != nil {
		return nil, fmt.Errorf("lying nested jar: %w", err)
	}
	if _, err := w.Write([]byte{0x03, 0x00}); err != nil {
		return nil, fmt.Errorf("lying nested jar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("lying nested jar: %w", err)
	}
	return Zip(File{"lib/inner.jar", inner.Bytes()})
}

// ZlibStream wraps a raw deflate stream in zlib's header and trailer.
func ZlibStream(deflated []byte, adler uint32) []byte {
	out := append([]byte{0x78, 0xda}, deflated...)
	return binary.BigEndian.AppendUint32(out, adler)
}

// ELFWithSection is a small 64-bit ELF executable holding one section of
// data under name, plus the section name table.
func ELFWithSection(name string, data []byte) ([]byte, error) {
	names := []byte("\x00" + name + "\x00.shstrtab\x00")
	const hdr, ent = 64, 64
	dataOff := uint64(hdr)
	namesOff := dataOff + uint64(len(data))
	shoff := namesOff + uint64(len(names))
	var buf bytes.Buffer
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	if err := binary.Write(&buf, binary.LittleEndian, elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: hdr, Shentsize: ent, Shnum: 3, Shstrndx: 2}); err != nil {
		return nil, fmt.Errorf("elf header: %w", err)
	}
	buf.Write(data)
	buf.Write(names)
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: dataOff, Size: uint64(len(data)), Addralign: 1},
		{Name: uint32(2 + len(name)), Type: uint32(elf.SHT_STRTAB), Off: namesOff, Size: uint64(len(names)), Addralign: 1},
	}
	if err := binary.Write(&buf, binary.LittleEndian, sections); err != nil {
		return nil, fmt.Errorf("elf section headers: %w", err)
	}
	return buf.Bytes(), nil
}
