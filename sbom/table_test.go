package sbom

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	s := mustCatalog(t, debianRoot(t))
	var buf bytes.Buffer
	if err := s.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if lines[0] != "Distribution: Debian GNU/Linux 12 (bookworm)" || lines[1] != "Packages: 3" {
		t.Errorf("table header:\n%s", out)
	}
	if !strings.HasPrefix(lines[3], "NAME ") || !strings.Contains(lines[3], "SOURCE") {
		t.Errorf("column header %q", lines[3])
	}
	rows := map[string][]string{}
	for _, l := range lines[4:] {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	// The source shows only where it differs from the package itself.
	if got := strings.Join(rows["libssl3"], " "); got != "libssl3 3.0.11-1~deb12u2+b1 deb openssl 3.0.11-1~deb12u2 /var/lib/dpkg/status" {
		t.Errorf("libssl3 row %q", got)
	}
	if got := strings.Join(rows["base-files"], " "); got != "base-files 12.4+deb12u5 deb /var/lib/dpkg/status" {
		t.Errorf("base-files row %q", got)
	}
	if len(rows) != 3 {
		t.Errorf("%d rows:\n%s", len(rows), out)
	}
}
