package baseimage

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/vuln"
)

func TestCacheScan(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), TagTTL: time.Minute}
	want := &ScanResult{Distro: "debian 12", Findings: []vuln.Finding{{ID: "CVE-1", Severity: vuln.High}}}
	if got, err := c.Scan("sha256:a", "db1", "v1"); got != nil || err != nil {
		t.Fatalf("empty cache: %v, %v", got, err)
	}
	if err := c.PutScan("sha256:a", "db1", "v1", want); err != nil {
		t.Fatal(err)
	}
	got, err := c.Scan("sha256:a", "db1", "v1")
	if err != nil || got == nil || got.Distro != "debian 12" || len(got.Findings) != 1 || got.Findings[0].Severity != vuln.High {
		t.Fatalf("cached scan: %+v, %v", got, err)
	}
	// Another database or scanner is another key.
	for _, k := range [][3]string{{"sha256:a", "db2", "v1"}, {"sha256:a", "db1", "v2"}, {"sha256:b", "db1", "v1"}} {
		if got, err := c.Scan(k[0], k[1], k[2]); got != nil || err != nil {
			t.Errorf("Scan(%q): %+v, %v; want none", k, got, err)
		}
	}
}

// TestCacheCorrupt: an entry that is not JSON, that holds another key, or
// whose content does not match its checksum is a CorruptError naming the
// file; writing the entry again replaces it.
func TestCacheCorrupt(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), TagTTL: time.Minute}
	good := &ScanResult{Findings: []vuln.Finding{{ID: "CVE-1"}}}
	path := c.path("scans", scanKey("sha256:a", "db", "v"))
	damage := map[string]func([]byte) []byte{
		"not JSON":         func(b []byte) []byte { return b[:len(b)/2] },
		"another key":      func(b []byte) []byte { return rekey(t, b, scanKey("sha256:other", "db", "v")) },
		"checksum":         func(b []byte) []byte { return []byte(strings.Replace(string(b), "CVE-1", "CVE-2", 1)) },
		"value not a scan": func(b []byte) []byte { return revalue(t, b, `"text"`) },
	}
	for why, damageFn := range damage {
		if err := c.PutScan("sha256:a", "db", "v", good); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, damageFn(b), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := c.Scan("sha256:a", "db", "v")
		var corrupt *CorruptError
		if got != nil || !errors.As(err, &corrupt) || corrupt.Path != path || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %+v, %v; want a CorruptError naming %s", why, got, err, path)
		}
		if err := c.PutScan("sha256:a", "db", "v", good); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Scan("sha256:a", "db", "v"); err != nil || got == nil {
			t.Errorf("%s: rewritten entry: %+v, %v", why, got, err)
		}
	}
}

func rekey(t *testing.T, b []byte, key string) []byte {
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	e.Key = key
	out, _ := json.Marshal(e)
	return out
}

func revalue(t *testing.T, b []byte, value string) []byte {
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	e.Value, e.Sum = json.RawMessage(value), sum([]byte(value))
	out, _ := json.Marshal(e)
	return out
}

func TestCacheTags(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), TagTTL: time.Minute}
	if err := c.PutTags("host/app", []string{"1.0", "1.1"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if tags, err := c.Tags("host/app", now); err != nil || len(tags) != 2 {
		t.Errorf("fresh tag list: %q, %v", tags, err)
	}
	if tags, err := c.Tags("host/app", now.Add(2*time.Minute)); err != nil || tags != nil {
		t.Errorf("tag list older than the TTL: %q, %v; want none", tags, err)
	}
	if tags, err := c.Tags("host/other", now); err != nil || tags != nil {
		t.Errorf("another repository: %q, %v", tags, err)
	}
}
