package vuln

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/cespare/xxhash/v2"
)

// An archive file ends with a trailer after bbolt's last page: a magic, the
// length of what precedes it and the xxhash64 of those bytes. bbolt never
// reads past its high-water mark, so the trailer does not disturb it; Open
// checks it before bbolt reads a single page, because bbolt trusts its
// pages: a flipped byte can make it panic, loop on a page that points to
// itself, or silently miss a package (a finding the gate never sees).
const (
	checksumMagic   = "SBDBSUM1"
	checksumTrailer = len(checksumMagic) + 8 + 8
)

// writeChecksum appends the trailer to a finished archive file.
func writeChecksum(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("checksum %s: %w", path, err)
	}
	defer f.Close()
	size, sum, err := hashFile(f, -1)
	if err == nil {
		trailer := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte(checksumMagic), uint64(size)), sum)
		_, err = f.WriteAt(trailer, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("checksum %s: %w", path, err)
	}
	return nil
}

// verifyChecksum reads the whole file and says what is wrong with it, if
// anything.
func verifyChecksum(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	total := fi.Size()
	trailer := make([]byte, checksumTrailer)
	if total < int64(checksumTrailer) {
		return fmt.Errorf("%d bytes, too short for a database file", total)
	}
	if _, err := f.ReadAt(trailer, total-int64(checksumTrailer)); err != nil {
		return err
	}
	size := total - int64(checksumTrailer)
	want, err := parseTrailer(trailer, size)
	if err != nil {
		return err
	}
	_, got, err := hashFile(f, size)
	if err != nil {
		return err
	}
	if got != want {
		return checksumMismatch(got, want)
	}
	return nil
}

// parseTrailer reads the checksum trailer of a file whose size bytes
// precede it, and returns the checksum it records.
func parseTrailer(trailer []byte, size int64) (uint64, error) {
	if len(trailer) < checksumTrailer {
		return 0, fmt.Errorf("%d bytes, too short for a database file", size+int64(len(trailer)))
	}
	if !bytes.HasPrefix(trailer, []byte(checksumMagic)) {
		return 0, fmt.Errorf("no checksum at its end: cut short, or written by an older secure-build")
	}
	if covered := int64(binary.BigEndian.Uint64(trailer[len(checksumMagic):])); covered != size {
		return 0, fmt.Errorf("its checksum covers %d bytes, the file has %d", covered, size)
	}
	return binary.BigEndian.Uint64(trailer[len(checksumMagic)+8:]), nil
}

func checksumMismatch(got, want uint64) error {
	return fmt.Errorf("checksum mismatch: xxhash64 %016x, recorded %016x", got, want)
}

// hashFile hashes the first size bytes of f, or all of it when size < 0,
// and returns how many bytes it hashed.
func hashFile(f *os.File, size int64) (int64, uint64, error) {
	var r io.Reader = f
	if size >= 0 {
		r = io.NewSectionReader(f, 0, size)
	} else if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, err
	}
	h := xxhash.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
	if err == nil && size >= 0 && n != size {
		err = io.ErrUnexpectedEOF
	}
	return n, h.Sum64(), err
}
