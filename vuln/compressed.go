package vuln

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/s2"
)

// A database travels to a build's scan step with its archive files
// compressed (NAME.db.s2): a fifth of their size, and the builder writes
// that to disk, not the whole files; the step expands them into its
// memory-backed /tmp before it opens them, while it catalogs the root. S2,
// not zstd: it expands twice as fast (20 ms against 55 ms for a 27 MB
// archive, measured), which the step's catalog feels on two cores, for
// files 1.4 times as large, which only the builder's early load sees.
const compressedSuffix = dbFileSuffix + ".s2"

// CompressedName is the name of archive's file in its compressed form.
func CompressedName(archive string) string { return archive + compressedSuffix }

// CompressArchive reads the archive file at path and returns it compressed
// (S2's default level, one goroutine: the same file makes the same bytes).
func CompressArchive(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out bytes.Buffer
	enc := s2.NewWriter(&out, s2.WriterConcurrency(1))
	if _, err := io.Copy(enc, f); err != nil {
		enc.Close()
		return nil, fmt.Errorf("compress %s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("compress %s: %w", path, err)
	}
	return out.Bytes(), nil
}

// An expanded archive may be at most maxExpansion times its compressed
// size, plus expansionSlack: a bbolt file compresses about fivefold, and a
// file that expands to more is refused before it fills the step's memory.
const (
	maxExpansion   = 64
	expansionSlack = 64 << 20
)

// Expand writes the compressed archives of dir (NAME.db.s2) into the
// folder into as NAME.db and returns the folder to Open: into when dir held
// any, else dir itself. A compressed archive that does not expand, or
// expands past its bound, is an error naming it; what was written of it is
// removed.
func Expand(dir, into string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("open vulnerability database %s: %w", dir, err)
	}
	var names, plain []string
	for _, e := range entries {
		switch name := e.Name(); {
		case !e.Type().IsRegular() || strings.HasPrefix(name, "."):
		case strings.HasSuffix(name, compressedSuffix):
			names = append(names, name)
		case strings.HasSuffix(name, dbFileSuffix):
			plain = append(plain, name)
		}
	}
	if len(names) == 0 {
		return dir, nil
	}
	// One form or the other: a folder of both would be read as one of them,
	// without the other's archives.
	if len(plain) > 0 {
		return "", fmt.Errorf("vulnerability database %s holds both archive files (%s) and compressed ones (%s)", dir, plain[0], names[0])
	}
	for _, name := range names {
		archive := strings.TrimSuffix(name, compressedSuffix)
		if err := expandFile(filepath.Join(dir, name), filepath.Join(into, archive+dbFileSuffix)); err != nil {
			return "", &CorruptError{Path: filepath.Join(dir, name), Archive: archive, Reason: err}
		}
	}
	return into, nil
}

// s2MaxBlock is the largest block S2's writers make (s2.maxBlockSize).
const s2MaxBlock = 4 << 20

func expandFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	limit := maxExpansion*fi.Size() + expansionSlack
	// The reader checks each block's CRC, and holds at most one block of
	// the largest size a writer makes.
	dec := s2.NewReader(in, s2.ReaderMaxBlockSize(s2MaxBlock))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, io.LimitReader(dec, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("expands past %d bytes (%d times its %d compressed bytes, and more): refused", limit, maxExpansion, fi.Size())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}
