package testutil

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// RequireE2E skips a test whose real component is missing, or fails it when
// SECURE_BUILD_E2E=1 (as scripts/test.sh and CI set it): there the component
// must be present, and a skip would hide a missing install step.
func RequireE2E(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("SECURE_BUILD_E2E") == "1" {
		t.Fatalf("SECURE_BUILD_E2E=1 but %s", msg)
	}
	t.Skipf("%s (scripts/test.sh prepares it)", msg)
}

// DebianRoot is the debootstrap root scripts/test.sh prepares
// (SECURE_BUILD_TEST_ROOTFS).
func DebianRoot(t testing.TB) string {
	t.Helper()
	root := os.Getenv("SECURE_BUILD_TEST_ROOTFS")
	if root == "" {
		RequireE2E(t, "SECURE_BUILD_TEST_ROOTFS names no debootstrap root")
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/status")); err != nil {
		t.Fatalf("SECURE_BUILD_TEST_ROOTFS=%s is not a Debian root: %v", root, err)
	}
	return root
}

// IsStaticELF reports whether an ELF file has no program interpreter
// (PT_INTERP), i.e. is statically linked.
func IsStaticELF(b []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// Shared is a component started once, by the first test that asks for it,
// and used by every test of the package that can share it; StopShared (from
// TestMain) stops it. Tests that need a component of their own (a cache state
// to observe, a daemon to damage, a builder no one else has used) start it
// with the Start functions instead.
type Shared[T any] struct {
	once    sync.Once
	v       T
	started bool
}

var (
	sharedMu    sync.Mutex
	sharedStops []func()
)

// Get starts the component with start the first time, in the test t that
// asks first, and returns it. start returns the function that stops it (or
// nil); what it leaves to t's cleanups is gone when t ends, so the component
// must not need it. When start fails t, every later test that asks fails.
func (s *Shared[T]) Get(t testing.TB, start func(t testing.TB) (T, func())) T {
	t.Helper()
	s.once.Do(func() {
		v, stop := start(t)
		if stop != nil {
			sharedMu.Lock()
			sharedStops = append(sharedStops, stop)
			sharedMu.Unlock()
		}
		s.v, s.started = v, true
	})
	if !s.started {
		t.Fatal("a shared component failed to start in another test")
	}
	return s.v
}

// StopShared stops the shared components, the last started first.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for i := len(sharedStops) - 1; i >= 0; i-- {
		sharedStops[i]()
	}
	sharedStops = nil
}
