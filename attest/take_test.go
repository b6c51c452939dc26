package attest

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
)

// TestTakeBinding: a statement with no subject is taken only when its
// attestation manifest is bound to the platform's image manifest; one with
// a subject must name it, whatever the binding.
func TestTakeBinding(t *testing.T) {
	image := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("2", 64)}
	ref, err := name.NewDigest("example.com/app@" + image.String())
	if err != nil {
		t.Fatal(err)
	}
	p := Platform{Name: "linux/amd64", Image: ref}
	statement := func(subject ...v1.Hash) Statement {
		st := NewStatement(OpenVEXPredicateType, []byte(`{}`))
		for _, h := range subject {
			st.Subject = append(st.Subject, intoto.Subject{Name: "_", Digest: map[string]string{h.Algorithm: h.Hex}})
		}
		return st
	}
	for _, c := range []struct {
		what  string
		st    Statement
		bound v1.Hash
		want  string // "" when taken
	}{
		{"no subject, bound to the image", statement(), image, ""},
		{"no subject, bound to another image", statement(), other, "it has no subject, and its attestation manifest is bound to " + other.String()},
		{"the image as subject", statement(image), image, ""},
		{"another image as subject, bound to the image", statement(other), image, "is not the image manifest"},
	} {
		q := p
		err := q.take(c.st, c.bound)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.what, err, c.want)
		}
	}
}
