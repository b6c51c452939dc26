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

// Header encodes p as the header blob rpm stores one a package in its
// database, with string tags only: name, version, release, license, arch
// and source rpm.
func Header(p Package) []byte {
	tags := []struct {
		tag   uint32
		value string
	}{
		{1000, p.Name}, {1001, p.Version}, {1002, p.Release}, {1014, "MIT"}, {1022, p.Arch},
		{1044, p.Name + "-" + p.Version + "-" + p.Release + ".src.rpm"},
	}
	var index, data bytes.Buffer
	for _, t := range tags {
		// Tag, type (6: a string), offset into the data, count.
		for _, v := range []uint32{t.tag, 6, uint32(data.Len()), 1} {
			binary.Write(&index, binary.BigEndian, v)
		}
		data.WriteString(t.value)
		data.WriteByte(0)
	}
	var out bytes.Buffer
	binary.Write(&out, binary.BigEndian, int32(len(tags)))
	binary.Write(&out, binary.BigEndian, int32(data.Len()))
	out.Write(index.Bytes())
	out.Write(data.Bytes())
	return out.Bytes()
}

// WriteWAL writes rpmdb.sqlite and rpmdb.sqlite-wal into dir: a database in
// WAL mode whose packages are in the log, not yet checkpointed into the
// database file.
func WriteWAL(dir string, pkgs ...Package) error {
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
	for _, p := range pkgs {
		if _, err := db.Exec("INSERT INTO Packages (blob) VALUES (?)", Header(p)); err != nil {
			return fmt.Errorf("insert %s: %w", p.Name, err)
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
