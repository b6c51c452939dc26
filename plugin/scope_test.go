package plugin

import (
	"strings"
	"testing"
)

// TestScanScopeAdded: a directory scan attributes nothing, so under
// --scope added its findings still gate (fail closed), and the verdict says
// the scope and why they gate.
func TestScanScopeAdded(t *testing.T) {
	db, root := testDB(t), minimistRoot(t)
	stdout, stderr, code := run(t, "scan", "--db", db, "--scope", "added", root)
	if code != ExitPolicyFailed {
		t.Errorf("--scope added on findings without origins: exit %d, want %d:\n%s", code, ExitPolicyFailed, stderr)
	}
	if !strings.Contains(stdout, "scope added: inherited findings do not gate") || !strings.Contains(stdout, "1 finding could not be attributed") {
		t.Errorf("the verdict must say the scope and that nothing attributed the finding:\n%s", stdout)
	}
}
