package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil"
)

// TestBuildKitHarnessMultiStage proves the end-to-end harness's components on
// this machine: a buildkitd built from the go.mod-pinned BuildKit, a base
// image made locally from busybox-static as an OCI layout, used through a
// named context
// by a multi-stage Dockerfile whose build stage runs a command (runc).
func TestBuildKitHarnessMultiStage(t *testing.T) {
	t.Parallel()
	bk := buildKit(t)
	const osRelease = "ID=secure-build-test\nNAME=\"secure-build busybox base\"\nVERSION_ID=1\n"
	base := testutil.WriteLayout(t, testutil.BusyboxImage(t, osRelease))

	ctx := t.TempDir()
	dockerfile := `FROM base AS build
RUN echo "built in a RUN step" > /tmp/artifact && cat /etc/os-release >/dev/null

FROM base
COPY --from=build /tmp/artifact /artifact
`
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := []string{
		"--frontend", "dockerfile.v0",
		"--local", "context=" + ctx, "--local", "dockerfile=" + ctx,
		"--output", "type=local,dest=" + out,
	}
	bk.Build(t, append(args, base.ContextArgs("base")...)...)

	got, err := os.ReadFile(filepath.Join(out, "artifact"))
	if err != nil {
		t.Fatalf("final stage has no /artifact: %v", err)
	}
	if strings.TrimSpace(string(got)) != "built in a RUN step" {
		t.Errorf("/artifact = %q, want the RUN step's output", got)
	}
	rel, err := os.ReadFile(filepath.Join(out, "etc", "os-release"))
	if err != nil {
		t.Fatalf("final stage has no /etc/os-release from the base: %v", err)
	}
	if string(rel) != osRelease {
		t.Errorf("/etc/os-release = %q, want the base's %q", rel, osRelease)
	}
	if fi, err := os.Lstat(filepath.Join(out, "bin", "sh")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("final stage /bin/sh is not the base's busybox link: %v", err)
	}
}
