package baseimage

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

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

// TestRecommendDamagedCache: a damaged scan entry is named in a note, the
// image scanned again and the entry rewritten; the next run scans nothing.
func TestRecommendDamagedCache(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	old := testutil.PushFiles(t, host+"/app:1.0", map[string]string{"v": "1.0"})
	next := testutil.PushFiles(t, host+"/app:1.1", map[string]string{"v": "1.1"})
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

// TestRecommendSession: the advice a build asks for early, without its
// findings, resolves, lists and scans everything the advice made with the
// findings needs (the base pinned by the FROM line, the image its tag was
// pushed again as, the candidates); that one then sends the registry
// nothing and scans nothing, and says what a call without a session says.
func TestRecommendSession(t *testing.T) {
	var requests testutil.RequestCount
	host := testutil.MemoryRegistry(t, requests.Wrap)
	old := testutil.PushFiles(t, host+"/app:1.0", map[string]string{"v": "1.0"})
	testutil.PushFiles(t, host+"/app:1.1", map[string]string{"v": "1.1"})
	testutil.PushFiles(t, host+"/app:2.0", map[string]string{"v": "2.0"})
	testutil.PushFiles(t, host+"/app:1.0", map[string]string{"v": "1.0 again"})
	baseFindings := []vuln.Finding{finding("CVE-1", "glibc", vuln.Critical, "1.1")}
	full := func(scanner Scanner, session *Session) Request {
		return Request{
			Image: host + "/app:1.0@" + old, Platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
			BaseDigest: old, BaseFindings: baseFindings, PerBucket: 1, Updates: true,
			Scanner: scanner, Database: "db", ScannerVersion: "v", Session: session,
		}
	}
	want, err := Recommend(context.Background(), full(&scansByDigest{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want.Refresh == nil || len(want.Updates) != 2 {
		t.Fatalf("advice without a session: refresh %v, updates %v; want a refresh and two updates", want.Refresh, want.Updates)
	}

	session := &Session{}
	early := full(&scansByDigest{}, session)
	early.BaseDigest, early.BaseFindings = "", nil
	if _, err := Recommend(context.Background(), early); err != nil {
		t.Fatal(err)
	}
	requests.Reset()
	late := &scansByDigest{}
	got, err := Recommend(context.Background(), full(late, session))
	if err != nil {
		t.Fatal(err)
	}
	if n := requests.Count(); n != 0 || len(late.scanned) != 0 {
		t.Errorf("the advice after the early one sent the registry %d requests and scanned %v; want none", n, late.scanned)
	}
	if got.Scans.Scanned != 0 || got.Scans.Cached != 3 {
		t.Errorf("scans %+v, want the refresh's and the 2 updates' taken from the session", got.Scans)
	}
	// A build with no findings of base origin has the base scanned: the
	// early call scanned it.
	unattributed := full(late, session)
	unattributed.BaseFindings = nil
	if a, err := Recommend(context.Background(), unattributed); err != nil || requests.Count() != 0 || len(late.scanned) != 0 || a.Scans.Cached != 4 {
		t.Errorf("unattributed advice after the early one: %v, %d requests, scanned %v, scans %+v; want the base's scan from the session too", err, requests.Count(), late.scanned, a.Scans)
	}
	got.Scans = want.Scans
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := json.Marshal(want); string(g) != string(w) {
		t.Errorf("advice with a session:\n%s\nwithout:\n%s", g, w)
	}
}

// TestSessionKeepsNoCancelledAnswer: an answer cut short by its caller's
// context is not kept: the next call asks again; an answer that is an
// error of its own is kept.
func TestSessionKeepsNoCancelledAnswer(t *testing.T) {
	var s Session
	calls := 0
	ask := func(ctx context.Context) (string, error) {
		calls++
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return "answer", nil
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := sessionDo(cancelled, &s, "k", ask); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	v, shared, err := sessionDo(context.Background(), &s, "k", ask)
	if err != nil || v != "answer" || shared || calls != 2 {
		t.Errorf("after a cancelled call: %q shared %v (%v) after %d calls; want the answer asked again", v, shared, err, calls)
	}
	if v, shared, _ := sessionDo(context.Background(), &s, "k", ask); v != "answer" || !shared || calls != 2 {
		t.Errorf("third call: %q shared %v after %d calls; want the kept answer", v, shared, calls)
	}
	denied := errors.New("denied")
	fail := func(context.Context) (string, error) { calls++; return "", denied }
	sessionDo(context.Background(), &s, "e", fail)
	if _, shared, err := sessionDo(context.Background(), &s, "e", fail); !errors.Is(err, denied) || !shared || calls != 3 {
		t.Errorf("an error of its own: %v shared %v after %d calls; want it kept", err, shared, calls)
	}

	// A waiter whose call is cut short by its caller's context asks again.
	first, cancelFirst := context.WithCancel(context.Background())
	running := make(chan struct{})
	go sessionDo(first, &s, "cut", func(ctx context.Context) (string, error) {
		close(running)
		<-ctx.Done()
		return "", ctx.Err()
	})
	<-running
	waited := make(chan string)
	go func() {
		v, _, _ := sessionDo(context.Background(), &s, "cut", func(context.Context) (string, error) { return "its own", nil })
		waited <- v
	}()
	time.Sleep(10 * time.Millisecond) // most often the waiter is waiting by now; either way it asks itself
	cancelFirst()
	if v := <-waited; v != "its own" {
		t.Errorf("a waiter on a call cut short got %q, want its own answer", v)
	}

	// A waiter gives up under its own context while the call goes on.
	release := make(chan struct{})
	started := make(chan struct{})
	go sessionDo(context.Background(), &s, "slow", func(context.Context) (string, error) {
		close(started)
		<-release
		return "late", nil
	})
	<-started
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if _, _, err := sessionDo(short, &s, "slow", ask); !errors.Is(err, context.Canceled) {
		t.Errorf("a waiter whose context ended: %v", err)
	}
	close(release)
	if v, _, err := sessionDo(context.Background(), &s, "slow", ask); v != "late" || err != nil {
		t.Errorf("after the slow call: %q (%v), want its answer", v, err)
	}
}
