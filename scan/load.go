package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/secure-build/secure-build/policy"
)

// LoadPolicy reads a policy file from disk and the VEX documents it names:
// paths inside the file's folder, or https URLs. Loading is here, with the
// inputs of a scan, so that policy only parses what it is given.
func LoadPolicy(ctx context.Context, path string) (*policy.Policy, error) {
	data, err := policy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := policy.Parse(path, data)
	if err != nil {
		return nil, err
	}
	for _, ref := range p.VEX {
		var doc []byte
		if policy.IsURL(ref) {
			doc, err = fetchVEX(ctx, ref)
		} else {
			doc, err = policy.ReadVEXFile(filepath.Dir(path), ref)
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

// vexClient fetches VEX documents: only over https, redirects included.
var vexClient = &http.Client{
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("redirected to %s: a VEX URL must stay https://", req.URL)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	},
}

// fetchVEX downloads a VEX document the policy names by URL.
func fetchVEX(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := vexClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, policy.MaxVEXSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(b) > policy.MaxVEXSize {
		return nil, fmt.Errorf("GET %s: larger than %d MiB", url, policy.MaxVEXSize>>20)
	}
	return b, nil
}
