package plugin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/secure-build/secure-build/internal/testutil"
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

// inspect shows an unsigned image's statements as unsigned, and one whose
// registry refuses the referrers listing with that said, not as a failure.
func TestInspectSignatures(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	stdout, stderr, code := run(t, "inspect", inspectImage(t, host))
	if code != 0 || strings.Count(stdout, "Signed: no (docker secure attest --key signs it)\n") != 2 {
		t.Errorf("unsigned: exit %d\n%s%s", code, stdout, stderr)
	}
	refusing := testutil.MemoryRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/referrers/") {
				http.Error(w, "no", http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	stdout, stderr, code = run(t, "inspect", inspectImage(t, refusing))
	if code != 0 || !strings.Contains(stdout, "Signed: unknown, the signatures could not be read: ") {
		t.Errorf("referrers refused: exit %d\n%s%s", code, stdout, stderr)
	}
}
