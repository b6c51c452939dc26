package baseimage

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/vuln"
)

// scansByDigest answers each image's scan from a table, counting them: the
// cache's behaviour is what is tested here, the real scanner in test/.
type scansByDigest struct {
	findings map[string][]vuln.Finding
	scanned  []string
}

func (s *scansByDigest) Scan(_ context.Context, pinned string) (*ScanResult, error) {
	_, digest, _ := strings.Cut(pinned, "@")
	s.scanned = append(s.scanned, digest)
	return &ScanResult{Distro: "debian 12", Findings: s.findings[digest]}, nil
}

func pushTag(t testing.TB, ref string, files map[string]string) string {
	t.Helper()
	img := testutil.Image(t, v1.Config{}, testutil.FilesLayer(t, files))
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestRecommendDamagedCache: a damaged scan entry is named in a note, the
// image scanned again and the entry rewritten; the next run scans nothing.
func TestRecommendDamagedCache(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	old := pushTag(t, host+"/app:1.0", map[string]string{"v": "1.0"})
	next := pushTag(t, host+"/app:1.1", map[string]string{"v": "1.1"})
	scanner := &scansByDigest{findings: map[string][]vuln.Finding{old: {finding("CVE-1", "glibc", vuln.Critical, "1.1")}}}
	cache := &Cache{Dir: t.TempDir(), TagTTL: DefaultTagTTL}
	req := Request{
		Image: host + "/app:1.0", Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Updates: true, Scanner: scanner, Cache: cache, Database: "db", ScannerVersion: "v",
	}
	run := func() *Advice {
		t.Helper()
		a, err := Recommend(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := run(); len(a.Updates) != 1 || a.Updates[0].Tag != "1.1" || a.Updates[0].Fixed.Critical != 1 || a.Scans.Scanned != 2 {
		t.Fatalf("first run: %+v", a)
	}
	path := cache.path("scans", scanKey(next, "db", "v"))
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := run()
	if a.Scans.Scanned != 1 || a.Scans.Cached != 1 || len(a.Notes) != 1 || !strings.Contains(a.Notes[0], path) {
		t.Errorf("run over a damaged entry: scans %+v, notes %q; want 1 scan, 1 cached, a note naming %s", a.Scans, a.Notes, path)
	}
	if a := run(); a.Scans.Scanned != 0 || len(a.Notes) != 0 {
		t.Errorf("run after the rewrite: scans %+v, notes %q", a.Scans, a.Notes)
	}
}

// TestRecommendRefreshPerPlatform: an index pushed again with only another
// platform's image changed is no refresh for this platform; it is for that
// one.
func TestRecommendRefreshPerPlatform(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	image := func(arch, content string) v1.Image {
		img := testutil.Image(t, v1.Config{}, testutil.FilesLayer(t, map[string]string{"v": content}))
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.DeepCopy()
		cfg.Architecture = arch
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		return img
	}
	index := func(amd, arm v1.Image) v1.ImageIndex {
		return mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	}
	amd := image("amd64", "a")
	first := index(amd, image("arm64", "b1"))
	second := index(amd, image("arm64", "b2"))
	tag, err := name.NewTag(host + "/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, first); err != nil {
		t.Fatal(err)
	}
	firstDigest, _ := first.Digest()
	if err := remote.WriteIndex(tag, second); err != nil {
		t.Fatal(err)
	}
	for arch, refreshed := range map[string]bool{"amd64": false, "arm64": true} {
		a, err := Recommend(context.Background(), Request{
			Image: tag.String(), BaseDigest: firstDigest.String(), Platform: v1.Platform{OS: "linux", Architecture: arch},
			Scanner: &scansByDigest{},
		})
		if err != nil {
			t.Fatal(err)
		}
		if (a.Refresh != nil) != refreshed {
			t.Errorf("%s: refresh %+v, want refreshed %v", arch, a.Refresh, refreshed)
		}
	}
}
