package origin

import (
	"testing"
)

func TestString(t *testing.T) {
	three := 3
	for _, tc := range []struct {
		o    Origin
		want string
	}{
		{Origin{Kind: Base, Image: "debian:12-slim", Digest: "sha256:ab", StartLine: 1}, "base debian:12-slim"},
		{Origin{Kind: Instruction, StartLine: 7, EndLine: 9, Instruction: "RUN apt-get update && \\\n  apt-get install -y curl"}, "Dockerfile:7-9 RUN apt-get update && …"},
		{Origin{Kind: Instruction, File: "build/Dockerfile", StartLine: 15, EndLine: 15, Instruction: "COPY --from=build /out/app /app"}, "build/Dockerfile:15 COPY --from=build /out/app /app"},
		{Origin{Kind: Layer, Layer: &three, CreatedBy: "RUN /bin/sh -c apk add curl # buildkit"}, "layer 3 RUN /bin/sh -c apk add curl # buildkit"},
		{Origin{Kind: Unknown, Reason: "no chain"}, "unknown: no chain"},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.o, got, tc.want)
		}
	}
	long := Origin{Kind: Instruction, StartLine: 2, Instruction: "RUN " + string(make([]byte, 100))}
	if r := []rune(long.String()); len(r) > len("Dockerfile:2 ")+maxInstructionText {
		t.Errorf("long instruction not cut: %d runes", len(r))
	}
}

func TestAddedFailsClosed(t *testing.T) {
	for k, want := range map[Kind]bool{Base: false, Instruction: true, Layer: true, Unknown: true} {
		if got := (Origin{Kind: k}).Added(); got != want {
			t.Errorf("%s.Added() = %v, want %v", k, got, want)
		}
	}
}

func TestAttributionOf(t *testing.T) {
	one, alsoOne := 1, 1
	a := Attribution{
		{PURL: "pkg:deb/debian/curl@1", Location: "/var/lib/dpkg/status"}:   {Kind: Instruction, StartLine: 7},
		{PURL: "pkg:deb/debian/curl@1", Location: "/usr/share/doc/curl"}:    {Kind: Instruction, StartLine: 7},
		{PURL: "pkg:deb/debian/curl@1", Location: "/var/lib/dpkg/status.d"}: {Kind: Base, Image: "debian"},
		{PURL: "pkg:golang/x@1", Location: "/a"}:                            {Kind: Layer, Layer: &one},
		{PURL: "pkg:golang/x@1", Location: "/b"}:                            {Kind: Layer, Layer: &alsoOne},
	}
	got := a.Of("pkg:deb/debian/curl@1", []string{"/var/lib/dpkg/status", "/usr/share/doc/curl", "/var/lib/dpkg/status.d"})
	if len(got) != 2 || got[0].Kind != Base || got[1].StartLine != 7 {
		t.Errorf("curl origins = %+v, want base then line 7, each once", got)
	}
	if got := a.Of("pkg:golang/x@1", []string{"/a", "/b"}); len(got) != 1 {
		t.Errorf("equal layers by value are one origin: %+v", got)
	}
	got = a.Of("pkg:deb/debian/curl@1", []string{"/elsewhere"})
	if len(got) != 1 || got[0].Kind != Unknown || !got[0].Added() {
		t.Errorf("a location not attributed must be unknown and added: %+v", got)
	}
	if got := Attribution(nil).Of("p", []string{"/a"}); got != nil {
		t.Errorf("no attribution at all gives no origins: %+v", got)
	}
}
