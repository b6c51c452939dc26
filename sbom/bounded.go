package sbom

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Bounds on what an archive may inflate, taken from the bytes it really
// holds: all its entries that are read (manifests, metadata, nested
// archives) inflate to at most maxInflateRatio times the archive's size plus
// inflateAllowance, and never more than maxArchiveBytes. A jar, wheel or
// egg compresses its text by a few times and its nested archives hardly at
// all; a zip bomb inflates by a thousand.
const (
	maxInflateRatio  = 50
	inflateAllowance = 16 << 20
)

// inflateBudget is how many bytes the entries of an archive of size bytes
// may inflate to in all.
func inflateBudget(size int64) uint64 {
	if size < 0 {
		size = 0
	}
	return min(maxArchiveBytes, maxInflateRatio*uint64(size)+inflateAllowance)
}

// maxArchiveMemory bounds the bytes of nested archives held in memory by all
// the files cataloged at once. The catalog reads up to 2*GOMAXPROCS files in
// parallel, so a bound per file alone lets memory grow with the cores.
const maxArchiveMemory = 256 << 20

// archiveMemory is what the archives being read at a time may hold.
var archiveMemory = newMemoryBudget(maxArchiveMemory)

// memoryBudget is a weighted semaphore over bytes of memory.
type memoryBudget struct {
	mu      sync.Mutex
	free    int64
	changed chan struct{}
}

func newMemoryBudget(n int64) *memoryBudget {
	return &memoryBudget{free: n, changed: make(chan struct{})}
}

// acquire takes n bytes (at most the budget's size), waiting for other
// files to give theirs back.
func (b *memoryBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if n <= b.free {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *memoryBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// readAllBounded reads r to its end into memory grown as bytes arrive,
// whatever size r's source declared; more than limit bytes is an error
// naming what and the bound.
func readAllBounded(r io.Reader, what string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s inflates to more than %d bytes", what, limit)
	}
	return b, nil
}
