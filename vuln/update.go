package vuln

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultBaseURL is OSV's public bucket: <base>/<Ecosystem>/all.zip.
const DefaultBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the archives an update fetches unless told which:
// the ecosystems the cataloger finds packages of.
var DefaultEcosystems = []string{
	"Alpine", "Debian", "Ubuntu", "Red Hat", "Rocky Linux", "AlmaLinux",
	"Go", "npm", "PyPI", "Maven", "crates.io", "RubyGems", "Packagist", "NuGet",
}

// maxDownload bounds one archive download.
const maxDownload = 4 << 30

// UpdateResult says what an update did for one archive.
type UpdateResult struct {
	Archive string
	// Unchanged is set when the server said the archive had not changed
	// since the last download (HTTP 304): nothing was downloaded.
	Unchanged bool
	Status    ArchiveStatus
}

// DownloadProgress is how far an archive's download has got.
type DownloadProgress struct {
	Archive string
	// Received bytes of Size; Size is -1 when the server did not say.
	Received, Size int64
	// Started is when the server began to send the archive.
	Started time.Time
	// Done is set on the last report of a download, complete or not.
	Done bool
}

// Update downloads <baseURL>/<ecosystem>/all.zip for each ecosystem, with
// the validators of the last download so an unchanged archive is not
// downloaded again, and imports what changed: each download replaces its own
// archive's file and nothing else (see Import). Every download completes
// before anything is imported; a failed download or import leaves the
// database as it was. The folder's lock is held throughout, so the
// downloads a killed update left behind are removed by the next one.
// progress, when not nil, is told as each download starts, as its bytes
// arrive, and when it ends; an unchanged archive has no download.
func Update(ctx context.Context, dir, baseURL string, ecosystems []string, client *http.Client, progress func(DownloadProgress)) ([]UpdateResult, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if len(ecosystems) == 0 {
		ecosystems = DefaultEcosystems
	}
	if progress == nil {
		progress = func(DownloadProgress) {}
	}
	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var results []UpdateResult
	var sources []Source
	defer func() {
		for _, s := range sources {
			os.Remove(s.Path)
		}
	}()
	for _, eco := range ecosystems {
		prev := previousStatus(dir, eco)
		src, unchanged, err := download(ctx, client, dir, baseURL, eco, prev, progress)
		if err != nil {
			return nil, err
		}
		if unchanged {
			results = append(results, UpdateResult{Archive: eco, Unchanged: true, Status: prev})
			continue
		}
		sources = append(sources, src)
	}
	if len(sources) > 0 {
		statuses, err := importLocked(ctx, dir, sources)
		if err != nil {
			return nil, err
		}
		for _, s := range statuses {
			results = append(results, UpdateResult{Archive: s.Archive, Status: s})
		}
	}
	return results, nil
}

// previousStatus is what the last update of an archive recorded. A missing,
// damaged or older file has none: the archive is downloaded whole, and its
// file replaced.
func previousStatus(dir, archive string) ArchiveStatus {
	f, err := openArchive(filepath.Join(dir, archive+dbFileSuffix), archive)
	if err != nil {
		return ArchiveStatus{}
	}
	defer f.bolt.Close()
	return f.status
}

// downloadPattern names the files downloads are written to until imported.
const downloadPattern = ".download-*.zip"

func download(ctx context.Context, client *http.Client, dir, baseURL, ecosystem string, prev ArchiveStatus, progress func(DownloadProgress)) (Source, bool, error) {
	u := strings.TrimSuffix(baseURL, "/") + "/" + url.PathEscape(ecosystem) + "/all.zip"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Source{}, false, fmt.Errorf("download %s: %w", u, err)
	}
	if prev.Source == u {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Source{}, false, fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return Source{}, true, nil
	case resp.StatusCode != http.StatusOK:
		return Source{}, false, fmt.Errorf("download %s: server answered %s", u, resp.Status)
	}
	f, err := os.CreateTemp(dir, downloadPattern)
	if err != nil {
		return Source{}, false, fmt.Errorf("download %s: %w", u, err)
	}
	body := &progressReader{r: io.LimitReader(resp.Body, maxDownload+1), report: progress,
		at: DownloadProgress{Archive: ecosystem, Size: resp.ContentLength, Started: time.Now()}}
	progress(body.at)
	n, err := io.Copy(f, body)
	body.at.Done = true
	progress(body.at)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxDownload {
		err = fmt.Errorf("larger than %d bytes", int64(maxDownload))
	}
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		os.Remove(f.Name())
		return Source{}, false, fmt.Errorf("download %s: %w", u, err)
	}
	return Source{
		Path: f.Name(), Archive: ecosystem, Name: u,
		ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
	}, false, nil
}

// progressReader reports the bytes read through it.
type progressReader struct {
	r      io.Reader
	report func(DownloadProgress)
	at     DownloadProgress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.at.Received += int64(n)
		p.report(p.at)
	}
	return n, err
}
