package vuln

import (
	"context"
	"testing"
)

// TestUpdateReportsProgress: each download is reported as it starts, as its
// bytes arrive, and once done, with the size the server announced; an
// unchanged archive, not downloaded, is not reported.
func TestUpdateReportsProgress(t *testing.T) {
	dir := t.TempDir()
	npm := zipFolder(t, "npm")
	srv := newOSVServer(t, map[string][]byte{"npm": npm, "Go": zipFolder(t, "Go")})
	var reports []DownloadProgress
	record := func(p DownloadProgress) { reports = append(reports, p) }
	if _, err := Update(context.Background(), dir, srv.URL, []string{"npm"}, srv.Client(), record); err != nil {
		t.Fatal(err)
	}
	if len(reports) < 3 {
		t.Fatalf("%d reports, want a start, the bytes and the end: %+v", len(reports), reports)
	}
	first, last := reports[0], reports[len(reports)-1]
	if first.Archive != "npm" || first.Received != 0 || first.Size != int64(len(npm)) || first.Done || first.Started.IsZero() {
		t.Errorf("first report %+v, want npm's start with its size %d", first, len(npm))
	}
	if !last.Done || last.Received != int64(len(npm)) || last.Started != first.Started {
		t.Errorf("last report %+v, want npm done with all %d bytes", last, len(npm))
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Received < reports[i-1].Received || reports[i-1].Done {
			t.Fatalf("reports out of order: %+v", reports)
		}
	}

	reports = nil
	if _, err := Update(context.Background(), dir, srv.URL, []string{"npm", "Go"}, srv.Client(), record); err != nil {
		t.Fatal(err)
	}
	for _, p := range reports {
		if p.Archive != "Go" {
			t.Errorf("the unchanged npm archive was reported: %+v", p)
		}
	}
	if len(reports) == 0 || !reports[len(reports)-1].Done {
		t.Errorf("Go's download was not reported to its end: %+v", reports)
	}
}
