package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDBUpdateProgress: "db update" run by the docker CLI shows each
// download's bytes and rate in a terminal, and nothing more than its result
// lines when its output is not a terminal, as in a CI log.
func TestDBUpdateProgress(t *testing.T) {
	t.Parallel()
	env := pluginConfig(t)
	// An archive of a few reads, sent in pieces with pauses between.
	records := make([]string, 2000)
	for i := range records {
		records[i] = fmt.Sprintf(`{"id": "GHSA-test-%04d", "modified": "2024-01-01T00:00:00Z", "summary": "record %d",
			"affected": [{"package": {"ecosystem": "npm", "name": "pkg-%d"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.0"}]}]}]}`, i, i, i)
	}
	archive := osvZip(t, records...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/npm/all.zip" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
		for rest := archive; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			w.Write(rest[:n])
			w.(http.Flusher).Flush()
			rest = rest[n:]
			time.Sleep(50 * time.Millisecond)
		}
	}))
	defer srv.Close()

	args := []string{"secure", "db", "update", "--base-url", srv.URL, "--ecosystem", "npm"}
	shown, code := runInTerminal(t, env, "docker", append(args, "--db", filepath.Join(t.TempDir(), "db"))...)
	if code != 0 {
		t.Fatalf("db update in a terminal: exit %d\n%q", code, shown)
	}
	// The last drawing of the line: the whole archive, and its rate.
	m := regexp.MustCompile(`npm\s+(\S+) / (\S+)\s+[0-9.]+[kMG]?B/s`).FindAllStringSubmatch(shown, -1)
	if len(m) == 0 || m[len(m)-1][1] != m[len(m)-1][2] || !strings.Contains(shown, "\r") {
		t.Errorf("db update in a terminal: no download progress ending complete with its rate (npm SIZE / SIZE RATE/s):\n%q", shown)
	}
	if !strings.Contains(shown, "npm: 2000 records") {
		t.Errorf("db update in a terminal: no result line:\n%q", shown)
	}

	res := runCmd(t, env, "docker", append(args, "--db", filepath.Join(t.TempDir(), "db"))...)
	if res.Code != 0 || res.Stderr != "" || strings.Contains(res.Stdout, "B/s") || strings.Contains(res.Stdout, "\r") {
		t.Errorf("db update without a terminal: exit %d, want the result lines alone:\nstdout %q\nstderr %q", res.Code, res.Stdout, res.Stderr)
	}
}
