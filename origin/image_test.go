package origin

import (
	"context"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/secure-build/secure-build/internal/imagetest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/sbom"
)

func file(name, body string) imagetest.Entry {
	return imagetest.Entry{Name: name, Typeflag: '0', Body: body}
}

func testLayer(t *testing.T, entries ...imagetest.Entry) v1.Layer {
	t.Helper()
	l, err := imagetest.Layer(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// step is one history entry; a nil layer makes none.
type step struct {
	createdBy string
	layer     v1.Layer
}

func historyImage(t *testing.T, steps ...step) v1.Image {
	t.Helper()
	img := empty.Image
	for _, s := range steps {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: s.layer, History: v1.History{CreatedBy: s.createdBy, EmptyLayer: s.layer == nil}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func purlOf(t *testing.T, doc *sbom.SBOM, name string) sbom.Package {
	t.Helper()
	for _, p := range doc.Packages {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no package %s in %v", name, doc.Packages)
	return sbom.Package{}
}

func TestTraceImage(t *testing.T) {
	const status = "var/lib/dpkg/status"
	osReleaseFile := file("etc/os-release", osRelease)
	self, err := os.ReadFile(os.Args[0]) // a Go binary with build info
	if err != nil {
		t.Fatal(err)
	}
	img := historyImage(t,
		step{"ADD rootfs.tar /", testLayer(t, osReleaseFile,
			file(status, stanza("base-files", "12.4")+stanza("libc6", "2.36-9")+stanza("libssl3", "3.0.11-1"))),
		},
		step{`CMD ["bash"]`, nil},
		step{"RUN /bin/sh -c apt-get install -y curl # buildkit", testLayer(t,
			file(status, stanza("base-files", "12.4")+stanza("libc6", "2.36-9")+stanza("libssl3", "3.0.11-1")+stanza("curl", "7.88.1-10")),
			file("usr/lib/node_modules/left-pad/package.json", `{"name": "left-pad", "version": "1.3.0"}`))},
		step{"COPY app /usr/local/bin/app # buildkit", testutil.FileLayer(t, map[string][]byte{"usr/local/bin/app": self})},
		step{"ENV A=b", nil},
		step{"RUN /bin/sh -c apt-get upgrade libssl3 && rm -r /usr/lib/node_modules/left-pad # buildkit", testLayer(t,
			file(status, stanza("base-files", "12.4")+stanza("libc6", "2.36-9")+stanza("libssl3", "3.0.11-2")+stanza("curl", "7.88.1-10")),
			file("usr/lib/node_modules/.wh.left-pad", ""))},
		step{"COPY left-pad /usr/lib/node_modules/left-pad # buildkit", testLayer(t,
			file("usr/lib/node_modules/left-pad/package.json", `{"name": "left-pad", "version": "1.3.0"}`))},
		step{"RUN /bin/sh -c chmod 700 /usr/local/bin/app # buildkit", testutil.FileLayer(t, map[string][]byte{"usr/local/bin/app": self})},
		step{`CMD ["app"]`, nil},
	)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	doc, layers, err := sbom.CatalogImageLayers(context.Background(), img, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer layers.Close()
	facts := ImageFacts{Layers: LayersOf(cfg), Base: ProbableBase(cfg)}
	if facts.Base == nil || facts.Base.Layers != 1 || !facts.Base.Approximate {
		t.Fatalf("ProbableBase = %+v, want the first layer, approximate", facts.Base)
	}
	a := TraceImage(context.Background(), doc, layers, facts)

	want := map[string]struct {
		kind      Kind
		layer     int
		createdBy string
	}{
		"base-files": {Base, 0, "ADD rootfs.tar /"},
		"libc6":      {Base, 0, "ADD rootfs.tar /"},
		"curl":       {Layer, 1, "RUN /bin/sh -c apt-get install -y curl # buildkit"},
		// Upgraded on a later line: that line's.
		"libssl3": {Layer, 3, "RUN /bin/sh -c apt-get upgrade libssl3 && rm -r /usr/lib/node_modules/left-pad # buildkit"},
		// Removed, then added again: the layer that added it again.
		"left-pad": {Layer, 4, "COPY left-pad /usr/lib/node_modules/left-pad # buildkit"},
		// A binary: the layer that last wrote it, not the one that first did.
		"stdlib": {Layer, 5, "RUN /bin/sh -c chmod 700 /usr/local/bin/app # buildkit"},
	}
	for name, w := range want {
		p := purlOf(t, doc, name)
		got := a.Of(p.PURL, p.Locations)
		if len(got) != 1 {
			t.Errorf("%s: origins %+v, want one", name, got)
			continue
		}
		o := got[0]
		if o.Kind != w.kind || o.Layer == nil || *o.Layer != w.layer || o.CreatedBy != w.createdBy || o.DiffID != cfg.RootFS.DiffIDs[w.layer].String() {
			t.Errorf("%s: origin %+v (%s), want %s layer %d by %q", name, o, o, w.kind, w.layer, w.createdBy)
		}
	}
	if o := a.Of(purlOf(t, doc, "libc6").PURL, purlOf(t, doc, "libc6").Locations)[0]; o.Reason == "" || !strings.Contains(o.String(), "base") {
		t.Errorf("a base from the history should say it is probable: %+v", o)
	}
}

func TestLayersOfMismatchedHistory(t *testing.T) {
	cfg := &v1.ConfigFile{
		RootFS:  v1.RootFS{DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}, {Algorithm: "sha256", Hex: strings.Repeat("b", 64)}}},
		History: []v1.History{{CreatedBy: "ADD x /"}, {CreatedBy: `CMD ["sh"]`, EmptyLayer: true}},
	}
	layers := LayersOf(cfg)
	if len(layers) != 2 || layers[0].CreatedBy != "" || layers[1].DiffID != cfg.RootFS.DiffIDs[1].String() {
		t.Errorf("LayersOf with one history entry for two layers = %+v, want the diff IDs only", layers)
	}
	if b := ProbableBase(cfg); b != nil {
		t.Errorf("ProbableBase with a history that does not match = %+v, want none", b)
	}
}
