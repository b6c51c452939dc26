package sbom

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/inventory"
	scalibrpurl "github.com/google/osv-scalibr/purl"
)

// The OS package databases are read here, not by osv-scalibr's dpkg and apk
// extractors, whose choices are wrong for a gate: one malformed line ends the
// dpkg file (every later package gone), one ends the apk file with nothing
// at all, a status.d file that cannot be parsed yields nothing and no error,
// and a record with no version is skipped without a word. Here a damaged
// record costs that record alone, and is named in the error.

// record is one blank-line separated stanza of a package database: its
// fields, and the line it starts on.
type record struct {
	line   int
	fields map[string]string
}

// damage is a record that could not be read: where, and why.
type damage struct {
	line   int
	reason string
}

// recordFormat says how a database writes its records.
type recordFormat struct {
	// continued says a line starting with a space or a tab continues the
	// last field (Debian's control format); apk has no such lines.
	continued bool
	// fold turns a field name into its key: dpkg's names are
	// case-insensitive, apk's one-letter keys are not.
	fold func(string) string
	// unique are the keys a record may hold once where others repeat
	// (apk lists a package's files under repeated keys): given twice, two
	// records ran together and one package would silently replace the other.
	unique map[string]bool
}

var (
	dpkgFormat = recordFormat{continued: true, fold: strings.ToLower}
	apkFormat  = recordFormat{fold: func(s string) string { return s }, unique: map[string]bool{"P": true, "V": true, "o": true, "A": true}}
)

// readRecords reads the records of r, at most limit bytes. A line that is
// neither a field nor a continuation damages its record, which is dropped
// while reading goes on at the next blank line. err is set only when r
// itself could not be read to the end.
func readRecords(r io.Reader, name string, limit int64, f recordFormat) ([]record, []damage, error) {
	sc := bufio.NewScanner(io.LimitReader(r, limit+1))
	// A line may be as long as the file; the buffer grows only with the
	// bytes actually read.
	sc.Buffer(make([]byte, 0, 64<<10), int(limit)+1)
	var (
		recs    []record
		damaged []damage
		cur     *record
		broken  bool
		last    string
		n       int
		read    int64
	)
	end := func() {
		if cur != nil && !broken {
			recs = append(recs, *cur)
		}
		cur, broken, last = nil, false, ""
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		read += int64(len(line)) + 1
		if strings.TrimSpace(line) == "" {
			end()
			continue
		}
		if cur == nil {
			cur = &record{line: n, fields: map[string]string{}}
		}
		if broken {
			continue
		}
		if f.continued && (line[0] == ' ' || line[0] == '\t') {
			if last == "" {
				damaged = append(damaged, damage{n, "a continuation line with no field before it"})
				broken = true
				continue
			}
			cur.fields[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			damaged = append(damaged, damage{n, fmt.Sprintf("not a field: %q", truncateLine(line))})
			broken = true
			continue
		}
		last = f.fold(key)
		if _, dup := cur.fields[last]; dup && (f.continued || f.unique[last]) {
			damaged = append(damaged, damage{n, fmt.Sprintf("field %s given twice", key)})
			broken = true
			continue
		}
		cur.fields[last] = strings.TrimSpace(value)
	}
	end()
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("larger than %d bytes", limit)
		}
		return recs, damaged, fmt.Errorf("read %s after line %d: %w", name, n, err)
	}
	if read > limit {
		return recs, damaged, fmt.Errorf("read %s: larger than %d bytes", name, limit)
	}
	return recs, damaged, nil
}

// truncateLine keeps a quoted line short in a message.
func truncateLine(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// damageError names the damaged records of a file, the first few by line.
func damageError(damaged []damage, total int) error {
	if len(damaged) == 0 {
		return nil
	}
	const shown = 5
	var parts []string
	for i, d := range damaged {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(damaged)-shown))
			break
		}
		parts = append(parts, fmt.Sprintf("line %d: %s", d.line, d.reason))
	}
	return fmt.Errorf("%d of %d package records damaged, not read: %s", len(damaged), total, strings.Join(parts, "; "))
}

// dpkgStatusFile reads dpkg's status file, a distroless status.d file, or
// opkg's status file, with osv-scalibr's dpkg extractor choosing the files.
type dpkgStatusFile struct {
	filesystem.Extractor
}

func (d dpkgStatusFile) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	name := slashPath(in.Path)
	recs, damaged, err := readRecords(in.Reader, name, maxMetadataFileSize, dpkgFormat)
	total := len(recs) + len(damaged)
	distroless := strings.Contains(in.Path, "/status.d/")
	purlType := scalibrpurl.TypeDebian
	if in.Path == "usr/lib/opkg/status" {
		purlType = scalibrpurl.TypeOpkg
	}
	var pkgs []*extractor.Package
	for _, r := range recs {
		p, installed, reason := dpkgPackage(r, distroless)
		if reason != "" {
			damaged = append(damaged, damage{r.line, reason})
			continue
		}
		if !installed {
			continue
		}
		p.PURLType = purlType
		p.Location = extractor.LocationFromPath(in.Path)
		pkgs = append(pkgs, p)
	}
	inv := inventory.Inventory{Packages: pkgs}
	if err != nil {
		return inv, err
	}
	if err := damageError(damaged, total); err != nil {
		return inv, err
	}
	if distroless && len(pkgs) == 0 {
		return inv, errors.New("no package record could be read")
	}
	return inv, nil
}

// dpkgPackage is one record's package. installed is false for a package
// whose files are gone (removed, its config files left); reason says why a
// record is damaged.
func dpkgPackage(r record, distroless bool) (p *extractor.Package, installed bool, reason string) {
	name, version := r.fields["package"], r.fields["version"]
	if name == "" || version == "" {
		return nil, false, fmt.Sprintf("a record without Package or Version (Package %q, Version %q)", truncateLine(name), truncateLine(version))
	}
	status, hasStatus := r.fields["status"]
	switch {
	case !hasStatus && distroless:
		// status.d records carry no Status: each file is one installed package.
	case !hasStatus:
		return nil, false, fmt.Sprintf("package %s has no Status field", truncateLine(name))
	default:
		words := strings.Fields(status)
		if len(words) != 3 {
			return nil, false, fmt.Sprintf("package %s: Status %q is not \"want flag state\"", truncateLine(name), truncateLine(status))
		}
		// Only these states leave no files of the package behind: every
		// other (unpacked, half-configured, triggers-pending...) has them.
		if words[2] == "not-installed" || words[2] == "config-files" {
			return nil, false, ""
		}
	}
	m := &dpkgmeta.Metadata{
		PackageName:    name,
		PackageVersion: version,
		Status:         status,
		Maintainer:     r.fields["maintainer"],
		Architecture:   r.fields["architecture"],
	}
	if source := r.fields["source"]; source != "" {
		srcName, srcVersion, ok := strings.Cut(source, " (")
		if ok {
			if !strings.HasSuffix(srcVersion, ")") {
				return nil, false, fmt.Sprintf("package %s: Source %q is not \"name (version)\"", truncateLine(name), truncateLine(source))
			}
			srcVersion = strings.TrimSuffix(srcVersion, ")")
		}
		m.SourceName, m.SourceVersion = strings.TrimSpace(srcName), strings.TrimSpace(srcVersion)
	}
	return &extractor.Package{Name: name, Version: version, Metadata: m}, true, ""
}

// apkInstalledFile reads apk's installed database, with osv-scalibr's apk
// extractor choosing the file.
type apkInstalledFile struct {
	filesystem.Extractor
}

func (a apkInstalledFile) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	name := slashPath(in.Path)
	recs, damaged, err := readRecords(in.Reader, name, maxMetadataFileSize, apkFormat)
	total := len(recs) + len(damaged)
	var pkgs []*extractor.Package
	for _, r := range recs {
		pkgName, version := r.fields["P"], r.fields["V"]
		if pkgName == "" || version == "" {
			damaged = append(damaged, damage{r.line, fmt.Sprintf("a record without P or V (P %q, V %q)", truncateLine(pkgName), truncateLine(version))})
			continue
		}
		p := &extractor.Package{
			Name:     pkgName,
			Version:  version,
			PURLType: scalibrpurl.TypeApk,
			Metadata: &apkmeta.Metadata{
				PackageName:  pkgName,
				OriginName:   r.fields["o"],
				Architecture: r.fields["A"],
				Maintainer:   r.fields["m"],
			},
			Location: extractor.LocationFromPath(in.Path),
		}
		if l := r.fields["L"]; l != "" {
			p.Licenses = []string{l}
		}
		pkgs = append(pkgs, p)
	}
	inv := inventory.Inventory{Packages: pkgs}
	if err != nil {
		return inv, err
	}
	return inv, damageError(damaged, total)
}
