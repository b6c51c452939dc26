package corpus

import (
	"archive/zip"
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Manifest says what Generate wrote.
type Manifest struct {
	Generator    string           `json:"generator"`
	Seed         uint64           `json:"seed"`
	Requested    int              `json:"requested"`
	Records      map[string]int   `json:"records"` // per archive, real-root records included
	Total        int              `json:"total"`
	ZipBytes     map[string]int64 `json:"zipBytes"`
	JSONBytes    int64            `json:"jsonBytes"` // inflated size of all records
	Packages     map[string]int   `json:"packages"`  // names with at least one synthetic record
	RealPackages int              `json:"realPackages"`
	RealRecords  int              `json:"realRecords"`
	// Options are what made the corpus: OptionsOf reads them back.
	Options  Options    `json:"options"`
	Expected []Expected `json:"-"`
}

// zipTime is every entry's modification time, so the archives are the same
// bytes from run to run.
var zipTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var cveBases = map[string]int{"Debian": 100000, "npm": 200000, "PyPI": 300000, "Go": 400000, "Maven": 500000}

// Generate writes dir/<Archive>/all.zip for every archive, and
// dir/manifest.json and dir/expected.json (the records about opt.Debian and
// whether each must match).
func Generate(dir string, opt Options) (*Manifest, error) {
	u := buildUniverse(opt)
	m := &Manifest{Generator: Version, Seed: opt.Seed, Requested: opt.Records,
		Records: map[string]int{}, ZipBytes: map[string]int64{}, Packages: map[string]int{}, RealPackages: len(opt.Debian), Options: opt}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(ecoSpecs))
	for i, spec := range ecoSpecs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			records, jsonBytes, zipBytes, expected, err := writeArchive(dir, spec.archive, u, opt)
			errs[i] = err
			mu.Lock()
			defer mu.Unlock()
			m.Records[spec.archive] = records
			m.Total += records
			m.JSONBytes += jsonBytes
			m.ZipBytes[spec.archive] = zipBytes
			m.Expected = append(m.Expected, expected...)
			for _, p := range u.eco[spec.archive] {
				if p.records > 0 {
					m.Packages[spec.archive]++
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	m.RealRecords = len(m.Expected)
	if err := writeJSON(filepath.Join(dir, "manifest.json"), m); err != nil {
		return nil, err
	}
	if m.Expected == nil {
		m.Expected = []Expected{}
	}
	if err := writeJSON(filepath.Join(dir, "expected.json"), m.Expected); err != nil {
		return nil, err
	}
	return m, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func writeArchive(dir, archive string, u *universe, opt Options) (records int, jsonBytes, zipBytes int64, expected []Expected, err error) {
	folder := filepath.Join(dir, archive)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return 0, 0, 0, nil, err
	}
	final := filepath.Join(folder, "all.zip")
	tmp := final + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	emit := func(rec *osvRecord) error {
		data, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: rec.ID + ".json", Method: zip.Deflate, Modified: zipTime})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		records++
		jsonBytes += int64(len(data))
		return nil
	}
	g := &gen{r: rngFor(opt.Seed, "records/"+archive), archive: archive, cveBase: cveBases[archive], ghsa: map[string]bool{}, emit: emit}
	for _, p := range u.eco[archive] {
		if archive == "Debian" {
			for range p.records {
				if err := g.debianRecord(p); err != nil {
					return 0, 0, 0, nil, fmt.Errorf("%s: %w", archive, err)
				}
			}
			continue
		}
		if p.records > 0 {
			if err := g.language(u, p); err != nil {
				return 0, 0, 0, nil, fmt.Errorf("%s: %w", archive, err)
			}
		}
	}
	if archive == "Debian" {
		rg := &gen{r: rngFor(opt.Seed, "records/Debian-real"), archive: archive, cveBase: 900000, ghsa: map[string]bool{}, emit: emit}
		rg.idSeq = 900000
		for _, sp := range opt.Debian {
			if err := rg.realRecords(sp, func(e Expected) { expected = append(expected, e) }); err != nil {
				return 0, 0, 0, nil, fmt.Errorf("%s: %w", archive, err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		return 0, 0, 0, nil, err
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, 0, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, 0, nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, 0, 0, nil, err
	}
	return records, jsonBytes, st.Size(), expected, nil
}

// Zips are the archive paths Generate writes under dir.
func Zips(dir string) []string {
	var out []string
	for _, a := range Archives() {
		out = append(out, filepath.Join(dir, a, "all.zip"))
	}
	return out
}

// ReadManifest reads the manifest.json Generate wrote in dir.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	if m.Generator != Version {
		return nil, fmt.Errorf("%s was written by %s, this is %s: generate it again", dir, m.Generator, Version)
	}
	return &m, nil
}
