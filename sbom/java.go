package sbom

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"io"
	"path"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	archivemeta "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive/metadata"
	"github.com/google/osv-scalibr/inventory"
)

// javaManifestFallback names the jars osv-scalibr cannot name. For a jar
// without pom.properties and without a version in its file name, osv-scalibr
// returns "unknown:unknown@unknown" (a placeholder for a hash lookup online),
// and two such jars would merge into one package. The jar's manifest usually
// has its version (OpenJDK's jrt-fs.jar: Implementation-Version 17.0.19); the
// file name gives the artifact, as Syft names it. A jar with no version
// anywhere is left out: nothing could be matched against it.
type javaManifestFallback struct {
	filesystem.Extractor
}

func (j javaManifestFallback) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	inv, err := j.Extractor.Extract(ctx, in)
	kept := inv.Packages[:0]
	for _, p := range inv.Packages {
		if p.Name != "unknown" || p.Version != "unknown" {
			kept = append(kept, p)
			continue
		}
		if named := nameFromManifest(in, p); named != nil {
			kept = append(kept, named)
		}
	}
	inv.Packages = kept
	return inv, err
}

func nameFromManifest(in *filesystem.ScanInput, p *extractor.Package) *extractor.Package {
	if p.Location.PathOrEmpty() != in.Path || len(p.Location.Related) > 0 {
		return nil // a jar nested in another: its manifest is not at hand
	}
	ra, ok := in.Reader.(io.ReaderAt)
	if !ok || in.Info == nil {
		return nil
	}
	zr, err := zip.NewReader(ra, in.Info.Size())
	if err != nil {
		return nil
	}
	f, err := zr.Open("META-INF/MANIFEST.MF")
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := readBounded(f, in.Path, maxArchiveMetadataSize)
	if err != nil {
		return nil
	}
	version := firstNonEmpty(manifestValues(data, "Implementation-Version", "Bundle-Version", "Specification-Version")...)
	artifact := strings.TrimSuffix(path.Base(in.Path), path.Ext(in.Path))
	if version == "" || artifact == "" {
		return nil
	}
	return &extractor.Package{
		Name:     artifact + ":" + artifact,
		Version:  version,
		PURLType: p.PURLType,
		Metadata: &archivemeta.Metadata{ArtifactID: artifact, GroupID: artifact},
		Location: p.Location,
	}
}

// manifestValues reads the main section of a JAR manifest and returns the
// values of keys, in the order asked ("" for a missing one). Lines of more
// than 72 bytes continue on lines that start with a space.
func manifestValues(data []byte, keys ...string) []string {
	values := map[string]string{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break // the main section ends at the first blank line
		}
		if strings.HasPrefix(line, " ") {
			if last != "" {
				values[last] += line[1:]
			}
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			last = ""
			continue
		}
		last = strings.ToLower(strings.TrimSpace(key))
		values[last] = strings.TrimSpace(value)
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimSpace(values[strings.ToLower(k)])
	}
	return out
}
