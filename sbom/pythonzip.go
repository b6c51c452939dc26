package sbom

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/simplefileapi"
	"github.com/google/osv-scalibr/inventory"
)

// zippedPython reads the metadata files in a zipped egg or wheel with
// bounds, and hands each to the wrapped extractor as if it were a file of its
// own. osv-scalibr's wheelegg reads every entry whose name ends like a
// metadata file, in full, line by line: a 164 KB egg whose directory lists
// one deflate bomb of continuation lines thousands of times kept it
// inflating for over 13 minutes. Here the entries are counted, each
// metadata entry inflates to at most maxArchiveMetadataSize, and all of them
// to at most inflateBudget of the egg's size; the time spent inflating is
// bounded with the bytes.
type zippedPython struct {
	filesystem.Extractor
}

func isZippedPython(p string) bool {
	return strings.HasSuffix(p, ".egg") || strings.HasSuffix(p, ".whl")
}

func (z zippedPython) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	if !isZippedPython(in.Path) {
		return z.Extractor.Extract(ctx, in)
	}
	name := slashPath(in.Path)
	ra, ok := in.Reader.(io.ReaderAt)
	if !ok || in.Info == nil {
		return inventory.Inventory{}, fmt.Errorf("read %s: not a file that can be read at an offset", name)
	}
	zr, err := zip.NewReader(ra, in.Info.Size())
	if err != nil {
		return inventory.Inventory{}, fmt.Errorf("read %s: %w", name, err)
	}
	if len(zr.File) > maxArchiveEntries {
		return inventory.Inventory{}, fmt.Errorf("read %s: holds %d entries, more than %d", name, len(zr.File), maxArchiveEntries)
	}
	limit := inflateBudget(in.Info.Size())
	left := limit
	var inv inventory.Inventory
	var errs []error
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return inv, err
		}
		// A nested egg or wheel is not read: osv-scalibr parses it as text.
		if isZippedPython(f.Name) || !z.FileRequired(simplefileapi.New(f.Name, sizelessInfo{f.FileInfo()})) {
			continue
		}
		// A bound hit ends the read: the directory of a bomb lists the same
		// entry thousands of times.
		if f.UncompressedSize64 > maxArchiveMetadataSize {
			errs = append(errs, fmt.Errorf("read %s: %s inflates to %d bytes, more than %d", name, f.Name, f.UncompressedSize64, maxArchiveMetadataSize))
			break
		}
		if f.UncompressedSize64 > left {
			errs = append(errs, fmt.Errorf("read %s: its metadata inflates to more than %d bytes", name, limit))
			break
		}
		left -= f.UncompressedSize64
		pkgs, err := z.extractEntry(ctx, in, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %s: %w", name, f.Name, err))
		}
		inv.Packages = append(inv.Packages, pkgs...)
	}
	return inv, errors.Join(errs...)
}

// extractEntry reads one metadata entry (its declared size checked, not
// trusted) and extracts it; the packages found are located at the archive.
func (z zippedPython) extractEntry(ctx context.Context, in *filesystem.ScanInput, f *zip.File) ([]*extractor.Package, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := readAllBounded(rc, f.Name, int64(f.UncompressedSize64))
	if err != nil {
		return nil, err
	}
	entry := *in
	entry.Path = in.Path + "/" + f.Name
	entry.Info = f.FileInfo()
	entry.Reader = bytes.NewReader(data)
	inv, err := z.Extractor.Extract(ctx, &entry)
	for _, p := range inv.Packages {
		if d := p.Location.Descriptor; d != nil && d.File != nil {
			d.File.Path = in.Path
		}
	}
	return inv.Packages, err
}
