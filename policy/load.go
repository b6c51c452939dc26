package policy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// maxVEXSize bounds a VEX document read from a URL.
const maxVEXSize = 32 << 20

// LoadFile reads a policy file from disk and the VEX documents it names:
// paths relative to the file, or URLs.
func LoadFile(ctx context.Context, path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	p, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	for _, ref := range p.VEX {
		var doc []byte
		if strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
			doc, err = fetch(ctx, ref)
		} else {
			var rel string
			if rel, err = VEXPath(ref); err == nil {
				doc, err = os.ReadFile(filepath.Join(filepath.Dir(path), filepath.FromSlash(rel)))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("policy %s: VEX document %s: %w", path, ref, err)
		}
		if err := p.AddVEX(ref, doc); err != nil {
			return nil, fmt.Errorf("policy %s: %w", path, err)
		}
	}
	return p, nil
}

// VEXPath checks a VEX document's path as the policy file names it: it is
// relative to the file's folder and stays inside it, so that the same file
// works for a build, whose frontend sees only that folder, and for scan and
// verify. It returns the path cleaned, with slashes.
func VEXPath(ref string) (string, error) {
	p := path.Clean(filepath.ToSlash(ref))
	if path.IsAbs(p) || filepath.IsAbs(ref) || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("outside the policy file's folder: name it relative to the file, inside its folder")
	}
	return p, nil
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxVEXSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(b) > maxVEXSize {
		return nil, fmt.Errorf("GET %s: larger than %d MiB", url, maxVEXSize>>20)
	}
	return b, nil
}
