package origin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/sbom"
)

const osRelease = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"

func stanza(name, version string) string {
	return "Package: " + name + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + version + "\n\n"
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// link makes name in dst the same file as in src, as an overlay mount of a
// lower layer shows it: same inode, same times.
func link(t *testing.T, src, dst, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
		t.Fatal(err)
	}
}

func TestTrace(t *testing.T) {
	dir := t.TempDir()
	base, s1, s2, s3 := filepath.Join(dir, "0"), filepath.Join(dir, "1"), filepath.Join(dir, "2"), filepath.Join(dir, "3")
	status := "var/lib/dpkg/status"
	write(t, base, "etc/os-release", osRelease)
	write(t, base, status, stanza("libssl3", "3.0.11-1")+stanza("bash", "5.2.15-2"))
	// 1: a RUN installs curl (the status file is rewritten).
	link(t, base, s1, "etc/os-release")
	write(t, s1, status, stanza("libssl3", "3.0.11-1")+stanza("bash", "5.2.15-2")+stanza("curl", "7.88.1-10"))
	// 2: a WORKDIR-like state: nothing changes.
	link(t, s1, s2, "etc/os-release")
	link(t, s1, s2, status)
	// 3: a later RUN upgrades libssl3.
	link(t, s2, s3, "etc/os-release")
	write(t, s3, status, stanza("libssl3", "3.0.15-1")+stanza("bash", "5.2.15-2")+stanza("curl", "7.88.1-10"))

	final, err := sbom.Catalog(context.Background(), s3, "final")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Trace(context.Background(), []string{base, s1, s2, s3}, final)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"bash": 0, "curl": 1, "libssl3": 3}
	if len(got) != len(want) {
		t.Fatalf("trace gave %d origins, want %d: %+v", len(got), len(want), got)
	}
	for _, o := range got {
		name := strings.TrimPrefix(strings.SplitN(o.PURL, "@", 2)[0], "pkg:deb/debian/")
		if o.State != want[name] || o.Location != "/"+status {
			t.Errorf("%s: state %d at %s (%s), want state %d at /%s", o.PURL, o.State, o.Location, o.Reason, want[name], status)
		}
	}

	// FROM scratch: no base root, everything is the first state's.
	got, err = Trace(context.Background(), []string{"", s3}, final)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if o.State != 1 {
			t.Errorf("scratch base: %s at state %d, want 1", o.PURL, o.State)
		}
	}
}

// A state whose package database cannot be read does not decide: the
// package is not taken for that state's, nor for the base's.
func TestTraceUnreadableStateIsUnknown(t *testing.T) {
	dir := t.TempDir()
	base, final := filepath.Join(dir, "0"), filepath.Join(dir, "1")
	status := "var/lib/dpkg/status"
	write(t, base, "etc/os-release", osRelease)
	write(t, base, status, "Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\nDescription: broken\n continued\n"+"\x00\x00garbage line without colon\n\n")
	link(t, base, final, "etc/os-release")
	write(t, final, status, stanza("curl", "7.88.1-10")+stanza("zlib1g", "1:1.2.13"))
	cat, err := sbom.Catalog(context.Background(), final, "final")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Trace(context.Background(), []string{base, final}, cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if strings.Contains(o.PURL, "zlib1g") && o.State != -1 {
			t.Errorf("zlib1g: state %d, want -1 (the base's database is damaged): %+v", o.State, o)
		}
	}
}
