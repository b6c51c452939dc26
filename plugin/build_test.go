package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlatformFile(t *testing.T) {
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{"out/app.spdx.json", 1, "out/app.spdx.json"},
		{"out/app.spdx.json", 2, "out/app.linux-arm64.spdx.json"},
		{"report", 2, "report.linux-arm64"},
	} {
		if got := platformFile(tc.path, "linux/arm64", tc.n); got != tc.want {
			t.Errorf("platformFile(%q, %d) = %q, want %q", tc.path, tc.n, got, tc.want)
		}
	}
}

// TestBuildRefusesPlantedIIDFile: --iidfile and --metadata-file, written
// after the export, are checked before anything is built.
func TestBuildRefusesPlantedIIDFile(t *testing.T) {
	link := filepath.Join(t.TempDir(), "iid")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []buildOptions{{iidFile: link}, {metadataFile: link}} {
		if err := checkScanFlags(opts); err == nil || !strings.Contains(err.Error(), link+": is a symbolic link") {
			t.Errorf("%+v: %v, want the link refused before the build", opts, err)
		}
	}
}
