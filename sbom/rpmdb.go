package sbom

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

// An rpm database is read here, whatever its format, and its headers are
// checked and written into a new sqlite database that alone go-rpmdb opens.
// go-rpmdb trusts the sizes a database declares: a header's index length
// (allocated before it is compared with the blob), an NDB blob's length
// (allocated whole), a Berkeley DB overflow chain (followed forever when it
// loops, appending a page each time) and in-page offsets (read past the
// page, a panic on its reader goroutine that no recover reaches). An sqlite
// database may also hold a view or computed columns that a query runs.

// headerBudget is how many bytes the headers of one database may add up to:
// the bytes of the database, which holds each once.
type headerBudget struct {
	left, size int64
}

func (b *headerBudget) take(n int64) error {
	if n > b.left {
		return fmt.Errorf("the package headers add up to more than the %d bytes the database holds", b.size)
	}
	b.left -= n
	return nil
}

// writeCleanRPMDatabase reads the headers of the rpm database at src, of
// size bytes with its journals, checks each, and writes them in the same
// order to a new sqlite rpm database at dst.
func writeCleanRPMDatabase(ctx context.Context, src, dst string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dst)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"PRAGMA journal_mode=OFF",
		"PRAGMA synchronous=OFF",
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("write the checked database: %w", err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insert, err := tx.PrepareContext(ctx, "INSERT INTO Packages (blob) VALUES (?)")
	if err != nil {
		return err
	}
	defer insert.Close()
	n := 0
	err = readRPMHeaders(ctx, src, &headerBudget{size, size}, func(blob []byte) error {
		n++
		if err := checkRPMHeader(blob); err != nil {
			return fmt.Errorf("package %d: %w", n, err)
		}
		_, err := insert.ExecContext(ctx, blob)
		return err
	})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// readRPMHeaders calls each with the header of every package of the rpm
// database at path, told apart by its content as go-rpmdb does: sqlite,
// NDB, else Berkeley DB.
func readRPMHeaders(ctx context.Context, path string, budget *headerBudget, each func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	head := make([]byte, 32)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return err
	}
	switch {
	case n >= 16 && bytes.Equal(head[:16], []byte("SQLite format 3\x00")):
		return readSQLiteHeaders(ctx, path, budget, each)
	case n < 32:
		return fmt.Errorf("the file is %d bytes, too short for an rpm database", n)
	case binary.LittleEndian.Uint32(head) == ndbHeaderMagic && binary.LittleEndian.Uint32(head[4:]) == 0 && binary.LittleEndian.Uint32(head[12:]) != 0:
		return readNDBHeaders(ctx, f, info.Size(), head, budget, each)
	default:
		return readBDBHeaders(ctx, f, info.Size(), budget, each)
	}
}

// readSQLiteHeaders reads the blobs of table Packages, each at most the
// database's size: sqlite holds a stored value within the file, and the
// limit refuses a computed one.
func readSQLiteHeaders(ctx context.Context, path string, budget *headerBudget, each func([]byte) error) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	limit := int(min(budget.size, 1<<30))
	if _, err := sqlite.Limit(conn, sqlitelib.SQLITE_LIMIT_LENGTH, limit); err != nil {
		return err
	}
	// A view would run whatever query it holds; a virtual table, its module.
	var kind, schema string
	err = conn.QueryRowContext(ctx, "SELECT type, coalesce(sql, '') FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE").Scan(&kind, &schema)
	if errors.Is(err, sql.ErrNoRows) {
		return errors.New("the database has no table Packages")
	}
	if err != nil {
		return err
	}
	if kind != "table" || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(schema)), "CREATE VIRTUAL") {
		return fmt.Errorf("the database's Packages is a %s, not a table: %.100s", kind, schema)
	}
	rows, err := conn.QueryContext(ctx, "SELECT blob FROM Packages")
	if err != nil {
		return fmt.Errorf("read Packages, a value at most %d bytes: %w", limit, err)
	}
	defer rows.Close()
	for rows.Next() {
		var blob sql.RawBytes
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("read Packages, a value at most %d bytes: %w", limit, err)
		}
		if err := budget.take(int64(len(blob))); err != nil {
			return err
		}
		if err := each(blob); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read Packages, a value at most %d bytes: %w", limit, err)
	}
	return nil
}

// NDB, rpm's own format (lib/backend/ndb/rpmpkg.c): a header, slot pages of
// 4 KiB, and blobs at offsets counted in blocks of 16 bytes.
const (
	ndbHeaderMagic  = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic    = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic    = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbSlotPageSize = 4096
	ndbMaxSlotPages = 2048 // go-rpmdb refuses more
	ndbBlockSize    = 16
)

func readNDBHeaders(ctx context.Context, f *os.File, size int64, head []byte, budget *headerBudget, each func([]byte) error) error {
	pages := int64(binary.LittleEndian.Uint32(head[12:]))
	if pages > ndbMaxSlotPages {
		return fmt.Errorf("the NDB header declares %d slot pages, more than %d", pages, ndbMaxSlotPages)
	}
	if pages*ndbSlotPageSize > size {
		return fmt.Errorf("the NDB header declares %d slot pages, %d bytes, more than the %d bytes the file holds", pages, pages*ndbSlotPageSize, size)
	}
	// The first two slots are the header.
	slots := make([]byte, pages*ndbSlotPageSize-32)
	if _, err := f.ReadAt(slots, 32); err != nil {
		return err
	}
	for i := 0; i < len(slots); i += 16 {
		if i%(64*ndbSlotPageSize) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		slot := slots[i:]
		if magic := binary.LittleEndian.Uint32(slot); magic != ndbSlotMagic {
			return fmt.Errorf("the NDB slot %d has magic %#x, not a slot's", i/16, magic)
		}
		pkg := binary.LittleEndian.Uint32(slot[4:])
		if pkg == 0 {
			continue // free
		}
		off := int64(binary.LittleEndian.Uint32(slot[8:])) * ndbBlockSize
		if off+16 > size {
			return fmt.Errorf("the NDB slot %d puts package %d at %d, beyond the file's %d bytes", i/16, pkg, off, size)
		}
		blobHead := make([]byte, 16)
		if _, err := f.ReadAt(blobHead, off); err != nil {
			return err
		}
		if magic := binary.LittleEndian.Uint32(blobHead); magic != ndbBlobMagic {
			return fmt.Errorf("the NDB package %d at %d has magic %#x, not a blob's", pkg, off, magic)
		}
		if owner := binary.LittleEndian.Uint32(blobHead[4:]); owner != pkg {
			return fmt.Errorf("the NDB slot %d points at the blob of package %d, not %d", i/16, owner, pkg)
		}
		n := int64(binary.LittleEndian.Uint32(blobHead[12:]))
		if n > size-off-16 {
			return fmt.Errorf("the NDB package %d declares a blob of %d bytes, more than the %d bytes the file holds after it", pkg, n, size-off-16)
		}
		if err := budget.take(n); err != nil {
			return err
		}
		blob := make([]byte, n)
		if _, err := f.ReadAt(blob, off+16); err != nil {
			return err
		}
		if err := each(blob); err != nil {
			return err
		}
	}
	return nil
}

// Berkeley DB hash databases (libdb's dbinc/db_page.h): a metadata page,
// hash pages whose values point at chains of overflow pages holding the
// headers.
const (
	bdbHashMagic         = 0x00061561
	bdbHashMagicSwapped  = 0x61150600
	bdbPageHeaderSize    = 26
	bdbHashUnsortedPage  = 2
	bdbHashOffPage       = 3 // a value held in overflow pages
	bdbOverflowPage      = 7
	bdbHashMetadataPage  = 8
	bdbHashPage          = 13
	bdbHashOffPageLength = 12
)

func readBDBHeaders(ctx context.Context, f *os.File, size int64, budget *headerBudget, each func([]byte) error) error {
	meta := make([]byte, 512)
	if _, err := f.ReadAt(meta, 0); err != nil && err != io.EOF {
		return err
	}
	var order binary.ByteOrder = binary.LittleEndian
	if order.Uint32(meta[12:]) == bdbHashMagicSwapped {
		order = binary.BigEndian
	}
	if magic := order.Uint32(meta[12:]); magic != bdbHashMagic {
		return fmt.Errorf("not an rpm database: no sqlite, NDB or Berkeley DB hash magic (%#x)", magic)
	}
	if meta[24] != 0 {
		return fmt.Errorf("the Berkeley DB database is encrypted (algorithm %d)", meta[24])
	}
	if meta[25] != bdbHashMetadataPage {
		return fmt.Errorf("the Berkeley DB metadata page has type %d, not a hash metadata page", meta[25])
	}
	pageSize := int64(order.Uint32(meta[20:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("the Berkeley DB page size is %d, not a power of two from 512 to 65536", pageSize)
	}
	pages := size / pageSize
	last := int64(order.Uint32(meta[32:]))
	if last >= pages {
		return fmt.Errorf("the Berkeley DB metadata declares %d pages, more than the %d the file holds", last+1, pages)
	}
	page := make([]byte, pageSize)
	for pgno := int64(0); pgno <= last; pgno++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := f.ReadAt(page, pgno*pageSize); err != nil {
			return err
		}
		if page[25] != bdbHashPage && page[25] != bdbHashUnsortedPage {
			continue
		}
		entries := int64(order.Uint16(page[20:]))
		if entries%2 != 0 || bdbPageHeaderSize+2*entries > pageSize {
			return fmt.Errorf("the Berkeley DB page %d declares %d entries, not pairs its %d bytes hold", pgno, entries, pageSize)
		}
		// Keys and values alternate; the values are what go-rpmdb reads.
		for k := int64(1); k < entries; k += 2 {
			at := int64(order.Uint16(page[bdbPageHeaderSize+2*k:]))
			if at >= pageSize {
				return fmt.Errorf("the Berkeley DB page %d puts entry %d at %d, beyond its %d bytes", pgno, k, at, pageSize)
			}
			if page[at] != bdbHashOffPage {
				continue
			}
			// go-rpmdb adds these offsets as uint16.
			if at+bdbHashOffPageLength > min(pageSize, 0xffff) {
				return fmt.Errorf("the Berkeley DB page %d puts entry %d at %d, its end beyond the page", pgno, k, at)
			}
			first := int64(order.Uint32(page[at+4:]))
			value, err := readBDBOverflow(ctx, f, order, pageSize, pages, first, budget)
			if err != nil {
				return fmt.Errorf("the Berkeley DB page %d entry %d: %w", pgno, k, err)
			}
			if err := each(value); err != nil {
				return err
			}
		}
	}
	return nil
}

// readBDBOverflow reads the value held by the chain of overflow pages that
// begins at page first. The budget ends a chain that loops.
func readBDBOverflow(ctx context.Context, f *os.File, order binary.ByteOrder, pageSize, pages, first int64, budget *headerBudget) ([]byte, error) {
	var value []byte
	page := make([]byte, pageSize)
	for pgno := first; pgno != 0; {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if pgno >= pages {
			return nil, fmt.Errorf("the overflow chain reaches page %d, beyond the file's %d pages", pgno, pages)
		}
		if _, err := f.ReadAt(page, pgno*pageSize); err != nil {
			return nil, err
		}
		// go-rpmdb reads a chain that reaches another page type forever.
		if page[25] != bdbOverflowPage {
			return nil, fmt.Errorf("the overflow chain reaches page %d of type %d", pgno, page[25])
		}
		next := int64(order.Uint32(page[16:]))
		part := page[bdbPageHeaderSize:]
		if next == 0 {
			// The last page says how much of it is used, as go-rpmdb adds it.
			end := bdbPageHeaderSize + order.Uint16(page[22:])
			if end < bdbPageHeaderSize || int64(end) > pageSize {
				return nil, fmt.Errorf("overflow page %d declares %d bytes, more than its %d", pgno, order.Uint16(page[22:]), pageSize-bdbPageHeaderSize)
			}
			part = page[bdbPageHeaderSize:end]
		}
		if err := budget.take(int64(len(part))); err != nil {
			return nil, err
		}
		value = append(value, part...)
		pgno = next
	}
	return value, nil
}
