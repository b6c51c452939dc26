package baseimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/vuln"
)

// benchRepo pushes a repository of 200 tags, each its own small Debian
// image with libfoo at the tag's version, to a loopback registry: 1.0.1 to
// 1.0.70 (patch), 1.1.0 to 1.65.0 (minor), 2.0.0 to 66.0.0 (major). It
// returns the repository and a database with one advisory of libfoo.
func benchRepo(b *testing.B) (string, *vuln.DB) {
	b.Helper()
	host := testutil.MemoryRegistry(b, nil)
	var tags []string
	for i := 1; i <= 70; i++ {
		tags = append(tags, fmt.Sprintf("1.0.%d", i))
	}
	for i := 1; i <= 65; i++ {
		tags = append(tags, fmt.Sprintf("1.%d.0", i))
	}
	for i := 2; i <= 66; i++ {
		tags = append(tags, fmt.Sprintf("%d.0.0", i))
	}
	tags = append(tags, "1.0.0")
	repo := host + "/bench/app"
	for _, tag := range tags {
		testutil.PushFiles(b, repo+":"+tag, map[string]string{
			"etc/os-release":      "ID=debian\nVERSION_ID=12\n",
			"var/lib/dpkg/status": "Package: libfoo1\nStatus: install ok installed\nVersion: " + tag + "\nArchitecture: amd64\nSource: libfoo\n",
		})
	}
	osv := b.TempDir()
	record := `{"id": "DEBIAN-CVE-2099-3001", "modified": "2024-01-01T00:00:00Z",
		"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
		"affected": [{"package": {"ecosystem": "Debian:12", "name": "libfoo"},
			"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.5"}]}]}]}`
	if err := os.WriteFile(filepath.Join(osv, "r.json"), []byte(record), 0o644); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if _, err := vuln.Import(context.Background(), dir, []vuln.Source{{Path: osv}}); err != nil {
		b.Fatal(err)
	}
	db, err := vuln.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return repo, db
}

// BenchmarkRecommend: the first run over a repository of 200 tags (the
// listing, the base's scan and 9 candidates'), and a second run whose
// scans and tag list come from the cache.
func BenchmarkRecommend(b *testing.B) {
	repo, db := benchRepo(b)
	request := func(cache *Cache) Request {
		return Request{
			Image: repo + ":1.0.0", Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
			Updates: true, Scanner: DBScanner{DB: db}, Cache: cache,
			Database: DatabaseVersion(db), ScannerVersion: "bench",
		}
	}
	run := func(b *testing.B, req Request, wantScans int) {
		a, err := Recommend(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if a.Scans.Scanned != wantScans || len(a.Updates) != 9 {
			b.Fatalf("%d scans and %d updates, want %d and 9", a.Scans.Scanned, len(a.Updates), wantScans)
		}
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			run(b, request(&Cache{Dir: b.TempDir(), TagTTL: DefaultTagTTL}), 10)
		}
	})
	b.Run("cached", func(b *testing.B) {
		cache := &Cache{Dir: b.TempDir(), TagTTL: DefaultTagTTL}
		run(b, request(cache), 10)
		for b.Loop() {
			run(b, request(cache), 0)
		}
	})
}
