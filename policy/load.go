package policy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
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
			name := ref
			if !filepath.IsAbs(name) {
				name = filepath.Join(filepath.Dir(path), ref)
			}
			doc, err = os.ReadFile(name)
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
