// Package rpmdbtest writes rpm databases for tests: an sqlite rpmdb in WAL
// mode, its packages still in the write-ahead log, as a running rpm leaves
// it. No rpm tool is needed.
package rpmdbtest

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	// The driver go-rpmdb reads sqlite databases with.
	_ "modernc.org/sqlite"
)

// Package is one installed rpm.
type Package struct {
	Name, Version, Release, Arch string
}

// Header encodes p as the header blob rpm stores for a package in its
// database: an immutable region (tag 63) of string tags: name, version,
// release, license, arch and source rpm, with the region's trailer after
// their data, as rpm writes it.
func Header(p Package) []byte {
	tags := []struct {
		tag   uint32
		value string
	}{
		{1000, p.Name}, {1001, p.Version}, {1002, p.Release}, {1014, "MIT"}, {1022, p.Arch},
		{1044, p.Name + "-" + p.Version + "-" + p.Release + ".src.rpm"},
	}
	var entries [][4]uint32
	var data bytes.Buffer
	for _, t := range tags {
		// Tag, type (6: a string), offset into the data, count.
		entries = append(entries, [4]uint32{t.tag, 6, uint32(data.Len()), 1})
		data.WriteString(t.value)
		data.WriteByte(0)
	}
	il := len(entries) + 1
	region := [4]uint32{63, 7, uint32(data.Len()), 16}
	// The trailer: the region tag again, its offset minus the index's length.
	for _, v := range [4]uint32{63, 7, uint32(-int32(il * 16)), 16} {
		binary.Write(&data, binary.BigEndian, v)
	}
	var out bytes.Buffer
	binary.Write(&out, binary.BigEndian, int32(il))
	binary.Write(&out, binary.BigEndian, int32(data.Len()))
	for _, e := range append([][4]uint32{region}, entries...) {
		binary.Write(&out, binary.BigEndian, e)
	}
	out.Write(data.Bytes())
	return out.Bytes()
}

// WithIndexLength returns a copy of header that declares il index entries,
// whatever it holds.
func WithIndexLength(header []byte, il int32) []byte {
	out := bytes.Clone(header)
	binary.BigEndian.PutUint32(out, uint32(il))
	return out
}

// Headers encodes each package with Header.
func Headers(pkgs ...Package) [][]byte {
	var out [][]byte
	for _, p := range pkgs {
		out = append(out, Header(p))
	}
	return out
}

// WriteWAL writes rpmdb.sqlite and rpmdb.sqlite-wal into dir: a database in
// WAL mode whose packages are in the log, not yet checkpointed into the
// database file.
func WriteWAL(dir string, pkgs ...Package) error {
	return WriteWALBlobs(dir, Headers(pkgs...)...)
}

// WriteWALBlobs is WriteWAL with the header blobs given.
func WriteWALBlobs(dir string, blobs ...[]byte) error {
	work, err := os.MkdirTemp("", "rpmdbtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	db, err := sql.Open("sqlite", filepath.Join(work, "rpmdb.sqlite"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"PRAGMA journal_mode=WAL",
		"PRAGMA wal_autocheckpoint=0",
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	for i, b := range blobs {
		if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?)", b); err != nil {
			return fmt.Errorf("insert package %d: %w", i+1, err)
		}
	}
	// Copied while the connection is open: closing it would checkpoint.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"rpmdb.sqlite", "rpmdb.sqlite-wal"} {
		b, err := os.ReadFile(filepath.Join(work, name))
		if err != nil {
			return err
		}
		if name == "rpmdb.sqlite-wal" && len(b) == 0 {
			return fmt.Errorf("no write-ahead log was written")
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// NDB returns an rpm NDB database (Packages.db) holding blobs: a header,
// one slot page, then each blob behind its blob header, at a multiple of 16
// bytes.
func NDB(blobs ...[]byte) []byte {
	const pageSize, block = 4096, 16
	out := make([]byte, pageSize)
	le := binary.LittleEndian
	le.PutUint32(out, 'R'|'p'<<8|'m'<<16|'P'<<24)
	le.PutUint32(out[12:], 1) // slot pages
	for slot := 2; slot < pageSize/16; slot++ {
		le.PutUint32(out[slot*16:], 'S'|'l'<<8|'o'<<16|'t'<<24)
	}
	for i, b := range blobs {
		pkg := uint32(i + 1)
		off := len(out)
		head := make([]byte, 16)
		le.PutUint32(head, 'B'|'l'<<8|'b'<<16|'S'<<24)
		le.PutUint32(head[4:], pkg)
		le.PutUint32(head[12:], uint32(len(b)))
		out = append(out, head...)
		out = append(out, b...)
		out = append(out, make([]byte, (block-len(out)%block)%block)...)
		slot := out[(2+i)*16:]
		le.PutUint32(slot[4:], pkg)
		le.PutUint32(slot[8:], uint32(off/block))
		le.PutUint32(slot[12:], uint32((len(out)-off)/block))
	}
	return out
}

// BDBPageSize is the page size of the databases BDB writes.
const BDBPageSize = 4096

// BDB returns a Berkeley DB hash database (Packages) holding blobs: the
// metadata page, one hash page of key and value pairs, each value a
// reference to the chain of overflow pages that holds a blob.
func BDB(blobs ...[]byte) []byte {
	const ps = BDBPageSize
	le := binary.LittleEndian
	pages := [][]byte{make([]byte, ps), make([]byte, ps)}
	hash := pages[1]
	le.PutUint32(hash[8:], 1)
	hash[25] = 13 // a sorted hash page
	le.PutUint16(hash[20:], uint16(2*len(blobs)))
	top := ps
	for i, b := range blobs {
		first := uint32(len(pages))
		for rest := b; ; {
			page := make([]byte, ps)
			n := copy(page[26:], rest)
			rest = rest[n:]
			le.PutUint32(page[8:], uint32(len(pages)))
			le.PutUint16(page[22:], uint16(n))
			page[25] = 7 // overflow
			if len(rest) > 0 {
				le.PutUint32(page[16:], uint32(len(pages)+1))
			}
			pages = append(pages, page)
			if len(rest) == 0 {
				break
			}
		}
		// The key: the package number, kept in the page (H_KEYDATA).
		top -= 5
		hash[top] = 1
		le.PutUint32(hash[top+1:], uint32(i+1))
		le.PutUint16(hash[26+4*i:], uint16(top))
		// The value: where its overflow chain begins (H_OFFPAGE).
		top -= 12
		hash[top] = 3
		le.PutUint32(hash[top+4:], first)
		le.PutUint32(hash[top+8:], uint32(len(b)))
		le.PutUint16(hash[26+4*i+2:], uint16(top))
	}
	meta := pages[0]
	le.PutUint32(meta[12:], 0x00061561)
	le.PutUint32(meta[16:], 9) // version
	le.PutUint32(meta[20:], ps)
	meta[25] = 8 // hash metadata
	le.PutUint32(meta[32:], uint32(len(pages)-1))
	return bytes.Join(pages, nil)
}
