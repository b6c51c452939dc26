package test

import (
	"strings"
	"testing"
)

// TestBuildErrorShowsSource: a Dockerfile error, found when the Dockerfile
// is read or when a step fails, prints the lines around it with the failing
// one marked, as docker buildx build does, before the error itself.
func TestBuildErrorShowsSource(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t)
	for name, tc := range map[string]struct {
		dockerfile, marked, message string
	}{
		"syntax": {"FROM {{base}}\nRUN echo one\nFRM {{base}}\nRUN echo two\n", "FRM " + e.base.Ref, "unknown instruction: FRM"},
		"step":   {"FROM {{base}}\nRUN echo one\nRUN exit 3\nRUN echo two\n", "RUN exit 3", "exit code: 3"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := e.project(t, tc.dockerfile, map[string]string{})
			r := e.build(t, dir)
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", r.Code, r.Stderr)
			}
			for _, want := range []string{
				"Dockerfile:3\n--------------------\n",
				"   2 |     RUN echo one\n",
				"   3 | >>> " + tc.marked + "\n",
				"   4 |     RUN echo two\n",
				"--------------------\n",
			} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("the error does not show %q:\n%s", want, r.Stderr)
				}
			}
			snippet := strings.LastIndex(r.Stderr, ">>> "+tc.marked)
			message := strings.LastIndex(r.Stderr, tc.message)
			if snippet < 0 || message < snippet {
				t.Errorf("the snippet does not come before the error message %q:\n%s", tc.message, r.Stderr)
			}
		})
	}
}
