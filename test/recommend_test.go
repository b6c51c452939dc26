package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/secure-build/secure-build/baseimage"
	"github.com/secure-build/secure-build/internal/testutil"
)

// libfooRecords are the test's advisories about the Debian source package
// libfoo: each fixed in a later version, so that each tag of the test's
// repository fixes some of them.
func libfooRecords(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range []struct{ id, vector, fixed string }{
		{"DEBIAN-CVE-2099-2001", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "1.1"},         // critical
		{"DEBIAN-CVE-2099-2002", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "1.2"},         // high
		{"DEBIAN-CVE-2099-2003", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "2.0"},         // high
		{"DEBIAN-CVE-2099-2004", "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N", "1.0+deb12u1"}, // low
	} {
		record := fmt.Sprintf(`{"id": %q, "modified": "2024-01-01T00:00:00Z", "summary": "libfoo flaw",
			"severity": [{"type": "CVSS_V3", "score": %q}],
			"affected": [{"package": {"ecosystem": "Debian:12", "name": "libfoo"},
				"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": %q}]}]}]}`, r.id, r.vector, r.fixed)
		if err := os.WriteFile(filepath.Join(dir, r.id+".json"), []byte(record), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// libfooImage is a Debian 12 (or another distro's) image holding libfoo at
// version, padded to tell sizes apart, built at created.
func libfooImage(t *testing.T, osRelease, version string, padding int, created time.Time) v1.Image {
	t.Helper()
	files := map[string]string{"etc/os-release": osRelease, "pad": strings.Repeat("x", padding)}
	if version != "" {
		files["var/lib/dpkg/status"] = "Package: libfoo1\nStatus: install ok installed\nVersion: " + version +
			"\nArchitecture: amd64\nSource: libfoo\n"
	}
	img := testutil.Image(t, v1.Config{}, testutil.FilesLayer(t, files))
	img, err := mutate.CreatedAt(img, v1.Time{Time: created})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// recommendOutput is the part of "recommend --format json" the test reads.
type recommendOutput = baseimage.Advice

// TestRecommend: a repository of many tags, made by the test from small
// roots with different libfoo versions, in the shared registry. recommend
// offers only the compatible later tags, in their buckets, ranked by what
// they fix; aliases are one candidate; a re-pushed tag is a refresh with
// its fixes; a second run scans nothing; an unreachable registry is one
// line.
func TestRecommend(t *testing.T) {
	t.Parallel()
	reg := registry(t)
	db := filepath.Join(t.TempDir(), "db")
	if r := runCmd(t, nil, binary, "db", "import", "--db", db, libfooRecords(t)); r.Code != 0 {
		t.Fatalf("db import: exit %d\n%s", r.Code, r.Stderr)
	}
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	recommend := func(t *testing.T, args ...string) result {
		t.Helper()
		return runCmd(t, env, binary, append([]string{"recommend", "--db", db}, args...)...)
	}
	recommendJSON := func(t *testing.T, args ...string) recommendOutput {
		t.Helper()
		r := recommend(t, append([]string{"--format", "json"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("recommend %q: exit %d\n%s", args, r.Code, r.Stderr)
		}
		var out recommendOutput
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("recommend --format json: %v\n%s", err, r.Stdout)
		}
		return out
	}

	debian := "ID=debian\nVERSION_ID=12\n"
	day := func(n int) time.Time { return time.Date(2024, 1, n, 0, 0, 0, 0, time.UTC) }
	push := func(tag string, img v1.Image) testutil.PushedImage { return reg.Push(t, "app:"+tag, img) }
	old := push("1.0", libfooImage(t, debian, "1.0", 512, day(1)))
	push("1.0.1", libfooImage(t, debian, "1.0.1", 512, day(2))) // another precision
	push("1.1", libfooImage(t, debian, "1.1", 512, day(3)))     // fixes 2001
	push("1.1-slim", libfooImage(t, debian, "1.1", 0, day(3)))  // another flavor, smaller
	v12 := libfooImage(t, debian, "1.2", 512, day(4))           // fixes 2001 and 2002
	push("1.2", v12)
	push("1.3", v12)                                         // an alias of 1.2
	push("1.4", libfooImage(t, debian, "1.2", 4096, day(5))) // fixes as much as 1.2, larger
	push("1.2-alpine", libfooImage(t, "ID=alpine\nVERSION_ID=3.20.0\n", "", 0, day(4)))
	v20 := libfooImage(t, debian, "2.0", 512, day(6)) // fixes all three
	push("2.0", v20)
	push("latest", v20)
	push("2.1-rc1", libfooImage(t, debian, "2.1~rc1", 512, day(7))) // a pre-release
	push("sha-3f2a1bc", libfooImage(t, debian, "9.0", 512, day(8))) // a commit tag
	push("20240101", libfooImage(t, debian, "9.1", 512, day(9)))    // a date tag
	push("0.9", libfooImage(t, debian, "0.9", 512, day(1)))         // a downgrade

	var first recommendOutput
	t.Run("candidates", func(t *testing.T) {
		first = recommendJSON(t, reg.Ref("app:1.0"))
		var got []string
		for _, o := range first.Updates {
			got = append(got, fmt.Sprintf("%s %s%v fixed %d/%d/%d gating %d", o.Bucket, o.Tag, o.Aliases, o.Fixed.Critical, o.Fixed.High, o.Fixed.All, o.Fixed.Gating))
		}
		want := []string{
			"minor 1.3[1.2] fixed 1/1/3 gating 1", // fixes the most, smaller than 1.4
			"minor 1.4[] fixed 1/1/3 gating 1",
			"minor 1.1[] fixed 1/0/2 gating 1",
			"major 2.0[] fixed 1/2/4 gating 1",
		}
		if !slices.Equal(got, want) {
			t.Errorf("updates of 1.0:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		if first.BaseFindings.All != 4 || first.Base.Digest != old.Digest || first.Refresh != nil {
			t.Errorf("base: %+v, %d findings, refresh %+v; want %s, 4 findings, no refresh", first.Base, first.BaseFindings.All, first.Refresh, old.Digest)
		}
		if first.Scans.Scanned != 5 || first.Scans.Cached != 0 {
			t.Errorf("first run: %+v, want 5 scans (the base and 4 candidates)", first.Scans)
		}
		if best := first.Best(); best == nil || best.Tag != "2.0" {
			t.Errorf("best update: %+v, want 2.0 (fixes the most of the gating, then of all)", best)
		}
	})

	t.Run("second run scans nothing", func(t *testing.T) {
		start := time.Now()
		again := recommendJSON(t, reg.Ref("app:1.0"))
		t.Logf("cached run: %s", time.Since(start).Round(time.Millisecond))
		if again.Scans.Scanned != 0 || again.Scans.Cached != 5 {
			t.Errorf("second run: %+v, want no scan and 5 from the cache", again.Scans)
		}
		if len(again.Updates) != len(first.Updates) {
			t.Errorf("second run: %d updates, first %d", len(again.Updates), len(first.Updates))
		}
	})

	t.Run("table", func(t *testing.T) {
		r := recommend(t, "--alternatives", reg.Ref("app:1.0"))
		if r.Code != 0 {
			t.Fatalf("recommend: exit %d\n%s", r.Code, r.Stderr)
		}
		for _, want := range []string{"BUCKET", "minor", "1.3 (1.2)", "major", "2.0", "1/2/4", "alternative", "1.1-slim",
			"1.2-alpine", "distro changes: debian 12 -> alpine 3.20.0", "update 2.0 (major) fixes 1 critical, 2 high"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.Stdout)
			}
		}
		// Nothing incompatible is offered, in any column.
		for _, tag := range []string{"1.0.1", "2.1-rc1", "sha-3f2a1bc", "20240101", "0.9", "latest"} {
			if strings.Contains(r.Stdout, " "+tag+" ") {
				t.Errorf("table offers %s:\n%s", tag, r.Stdout)
			}
		}
	})

	t.Run("markdown", func(t *testing.T) {
		r := recommend(t, "--format", "markdown", reg.Ref("app:1.0"))
		for _, want := range []string{"| bucket | tag |", "| minor | `1.3 (1.2)` |", "| major | `2.0` |", "**base "} {
			if r.Code != 0 || !strings.Contains(r.Stdout, want) {
				t.Errorf("markdown (exit %d) lacks %q:\n%s%s", r.Code, want, r.Stdout, r.Stderr)
			}
		}
	})

	t.Run("Dockerfile", func(t *testing.T) {
		dir := t.TempDir()
		df := filepath.Join(dir, "Dockerfile")
		content := "ARG BASE=" + reg.Ref("app:1.0") + "\nFROM ${BASE} AS base\nFROM scratch AS other\nFROM base\nRUN true\n"
		if err := os.WriteFile(df, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got := recommendJSON(t, "-f", df)
		if got.Tag != "1.0" || len(got.Updates) != len(first.Updates) || got.Scans.Scanned != 0 {
			t.Errorf("-f Dockerfile: tag %q, %d updates, %d scans; want 1.0, %d, 0", got.Tag, len(got.Updates), got.Scans.Scanned, len(first.Updates))
		}
	})

	t.Run("refresh", func(t *testing.T) {
		// 1.0 re-pushed with libfoo's Debian fix of 2004.
		refreshed := push("1.0", libfooImage(t, debian, "1.0+deb12u1", 512, day(20)))
		got := recommendJSON(t, reg.Ref("app:1.0")+"@"+old.Digest)
		if got.Refresh == nil {
			t.Fatalf("no refresh of 1.0 after it was pushed again: %+v", got)
		}
		r := got.Refresh
		if r.Digest != refreshed.Digest || r.Fixed.All != 1 || !r.Created.Equal(day(20)) {
			t.Errorf("refresh: %s, fixes %+v, created %s; want %s, fixing 1, created %s", r.Digest, r.Fixed, r.Created, refreshed.Digest, day(20))
		}
		if got.Base.Digest != old.Digest || got.Scans.Scanned != 1 {
			t.Errorf("base %s, %d scans; want %s and one scan (the refreshed image)", got.Base.Digest, got.Scans.Scanned, old.Digest)
		}
		table := recommend(t, reg.Ref("app:1.0")+"@"+old.Digest)
		if !strings.Contains(table.Stdout, "refresh available, fixes 1 finding") || !strings.Contains(table.Stdout, "pushed 2024-01-20") {
			t.Errorf("table of a refresh:\n%s", table.Stdout)
		}
	})

	t.Run("offline", func(t *testing.T) {
		r := recommend(t, "127.0.0.1:1/app:1.0")
		if r.Code != 2 || !strings.Contains(r.Stderr, "cannot reach 127.0.0.1:1") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("unreachable registry: exit %d, stderr %q; want 2 and one line saying so", r.Code, r.Stderr)
		}
	})
}
