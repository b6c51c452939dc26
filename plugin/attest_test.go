package plugin

import (
	"strings"
	"testing"
)

// The signing flags refuse what cannot work before anything is built or
// read: a key without a push, --require-signed without a key to check
// with, attest without a key, and a password-less key with no terminal.
func TestSigningFlagErrors(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--sign-key", "cosign.key", "."}, "add --push"},
		{[]string{"verify", "--db", testDB(t), "--require-signed", "127.0.0.1:1/app:1"}, "--key cosign.pub"},
		{[]string{"attest", "127.0.0.1:1/app:1"}, "--key: name the cosign private key"},
	} {
		_, stderr, code := run(t, c.args...)
		if code != ExitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, want %d saying %q\n%s", c.args, code, ExitError, c.want, stderr)
		}
	}
	t.Setenv("COSIGN_PASSWORD", "")
	_, stderr, code := run(t, "attest", "--key", "missing.key", "127.0.0.1:1/app:1")
	if code != ExitError || !strings.Contains(stderr, "missing.key") {
		t.Errorf("attest with a missing key: exit %d\n%s", code, stderr)
	}
}
