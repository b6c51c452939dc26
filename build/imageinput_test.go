package build

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
)

// TestImageInput: files become an image of one tar layer whose blobs the
// store serves by digest, each checked against it; the same content makes
// the same digest whatever the files' times, so a builder that holds the
// layer is sent nothing; other content makes another digest.
func TestImageInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := write("exe", strings.Repeat("x", 1000), 0o755)
	lib := write("lib/libc.so.6", "libc", 0o644)
	files := []LayerFile{{Name: "scanner", Host: exe}, {Name: "lib/x86_64-linux-gnu/libc.so.6", Host: lib}}
	platform := ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	in, err := NewImageInput("secure-build-scanner", platform, files)
	if err != nil {
		t.Fatal(err)
	}

	solve := client.SolveOpt{LocalMounts: map[string]fsutil.FS{}, FrontendAttrs: map[string]string{}}
	solve.OCIStores = map[string]content.Store{}
	in.AddTo(&solve)
	if got, want := solve.FrontendAttrs["context:secure-build-scanner"], "oci-layout://secure-build-scanner@"+in.Digest.String(); got != want {
		t.Errorf("context attr %q, want %q", got, want)
	}
	store := solve.OCIStores["secure-build-scanner"]

	read := func(d digest.Digest) []byte {
		t.Helper()
		info, err := store.Info(t.Context(), d)
		if err != nil {
			t.Fatalf("info %s: %v", d, err)
		}
		ra, err := store.ReaderAt(t.Context(), ocispecs.Descriptor{Digest: d, Size: info.Size})
		if err != nil {
			t.Fatal(err)
		}
		defer ra.Close()
		b, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
		if err != nil {
			t.Fatalf("read %s: %v", d, err)
		}
		if int64(len(b)) != info.Size || digest.FromBytes(b) != d {
			t.Fatalf("blob %s: %d bytes of digest %s, info says %d", d, len(b), digest.FromBytes(b), info.Size)
		}
		return b
	}
	var manifest ocispecs.Manifest
	if err := json.Unmarshal(read(in.Digest), &manifest); err != nil {
		t.Fatal(err)
	}
	var config ocispecs.Image
	if err := json.Unmarshal(read(manifest.Config.Digest), &config); err != nil {
		t.Fatal(err)
	}
	if config.OS != "linux" || config.Architecture != "arm64" || len(manifest.Layers) != 1 ||
		len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != manifest.Layers[0].Digest ||
		manifest.Layers[0].MediaType != ocispecs.MediaTypeImageLayer || manifest.Layers[0].Size != in.Size {
		t.Fatalf("manifest %+v, config %+v", manifest, config)
	}

	// The layer, read in pieces as the builder reads it, is a tar of the
	// files under their names, with their folders.
	layer := read(manifest.Layers[0].Digest)
	tr := tar.NewReader(strings.NewReader(string(layer)))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got = append(got, fmt.Sprintf("%s %c %o %.4s", h.Name, h.Typeflag, h.Mode, b))
	}
	want := []string{"lib/ 5 755 ", "lib/x86_64-linux-gnu/ 5 755 ", "lib/x86_64-linux-gnu/libc.so.6 0 644 libc", "scanner 0 755 xxxx"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("layer holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := store.Info(t.Context(), digest.FromString("other")); !errors.Is(err, cerrdefs.ErrNotFound) {
		t.Errorf("info of another digest: %v, want not found", err)
	}

	// Same content, new times: the same image.
	if err := os.Chtimes(exe, time.Unix(12345, 0), time.Unix(12345, 0)); err != nil {
		t.Fatal(err)
	}
	again, err := NewImageInput("secure-build-scanner", platform, files)
	if err != nil || again.Digest != in.Digest {
		t.Errorf("the same files again: %v, %v; want %s", again.Digest, err, in.Digest)
	}
	// Other content: another image; and the first one's layer, whose file
	// is now shorter, cannot be read as if it were whole.
	write("exe", "short", 0o755)
	other, err := NewImageInput("secure-build-scanner", platform, files)
	if err != nil || other.Digest == in.Digest {
		t.Errorf("changed files: %v, %v; want a digest other than %s", other.Digest, err, in.Digest)
	}
	ra, err := in.store.ReaderAt(t.Context(), manifest.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	if _, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size())); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a layer whose file got shorter: %v, want unexpected EOF", err)
	}
}
