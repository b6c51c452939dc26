package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseRefusesPlainHTTPVEX: the schema says https; a VEX URL of any
// other scheme is a policy error naming the file, the line and the URL.
func TestParseRefusesPlainHTTPVEX(t *testing.T) {
	for _, url := range []string{"http://example.com/vex.json", "HTTP://example.com/vex.json", "ftp://example.com/vex.json"} {
		doc := "vex:\n  - vex/app.json\n  - " + url + "\n"
		_, err := Parse("secure-build.yaml", []byte(doc))
		var fes FileErrors
		if !errors.As(err, &fes) || len(fes) != 1 {
			t.Errorf("vex %s: %v, want one policy error", url, err)
			continue
		}
		if fe := fes[0]; fe.Line != 3 || !strings.Contains(fe.Msg, url) || !strings.Contains(fe.Msg, "https://") {
			t.Errorf("vex %s: %v, want an error on line 3 naming the URL and https", url, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "policy secure-build.yaml:3: vex[1]: ") {
			t.Errorf("vex %s: %q does not name the file, the line and the entry", url, err)
		}
	}
	if _, err := Parse("secure-build.yaml", []byte("vex: [\"https://example.com/vex.json\"]\n")); err != nil {
		t.Errorf("an https VEX URL: %v", err)
	}
}

// TestReadFileBounded: a policy file larger than MaxFileSize is refused
// without reading it whole.
func TestReadFileBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secure-build.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadFile of %d bytes: %v", MaxFileSize+1, err)
	}
}
