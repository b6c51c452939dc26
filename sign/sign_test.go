package sign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/internal/attesttest"
	"github.com/secure-build/secure-build/internal/testutil"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sign"
	"github.com/secure-build/secure-build/vuln"
)

// writeKeyPair writes a key pair in cosign's files, as cosign
// generate-key-pair writes them (the end-to-end tests use cosign itself):
// the PKCS #8 private key encrypted with password, and the PEM public key.
func writeKeyPair(t *testing.T, password string) (private, public string) {
	t.Helper()
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.Encrypt(der, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(pk.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	private, public = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(private, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	return private, public
}

func TestLoadPrivateKeyWrongPassword(t *testing.T) {
	private, public := writeKeyPair(t, "right")
	if _, err := sign.LoadPrivateKey(private, []byte("wrong")); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong password: %v, want an error saying so", err)
	}
	if _, err := sign.LoadPrivateKey(public, []byte("right")); err == nil || !strings.Contains(err.Error(), "not cosign's encrypted private key") {
		t.Errorf("a public key as the private one: %v", err)
	}
	_, pk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.Encrypt(der, []byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	edKey := filepath.Join(t.TempDir(), "ed25519.key")
	if err := os.WriteFile(edKey, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sign.LoadPrivateKey(edKey, []byte("right")); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("an Ed25519 key: %v, want it refused", err)
	}
}

var minimist = vuln.Finding{
	ID: "CVE-2021-44906", Package: vuln.Package{Name: "minimist", Version: "1.2.5", PURL: "pkg:npm/minimist@1.2.5", Ecosystem: "npm", MatchName: "minimist", MatchVersion: "1.2.5"},
	FixedVersion: "1.2.6", Severity: vuln.Critical,
}

// noReferrersAPI answers the referrers API as a registry without it does:
// 404, as CNCF distribution 2.8 does.
func noReferrersAPI(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/referrers/") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestAttestAndCheck: the statements of both platforms are signed and
// published in the cosign tag and as bundle referrers (on a registry with
// the referrers API, and through the referrers tag on one without), and
// check with the key; another key, a tampered envelope and an attached
// statement changed after signing are each refused, naming the statement.
func TestAttestAndCheck(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "referrers tag"}[referrers], func(t *testing.T) {
			var wrap func(http.Handler) http.Handler
			if !referrers {
				wrap = noReferrersAPI
			}
			host := testutil.MemoryRegistry(t, wrap)
			ref := attesttest.Push(t, host, "app:1",
				attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true, AtBuild: []vuln.Finding{minimist}},
				attesttest.Platform{OS: "linux", Arch: "arm64", Modules: [][2]string{{"left-pad", "1.3.0"}}, Attested: true,
					Suppressed: []policy.Suppressed{{Finding: minimist, By: "ignore", Status: "not_affected", Reason: "test", Source: "secure-build.yaml:1"}}},
			)
			ctx := context.Background()
			img, err := attest.Read(ctx, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			private, public := writeKeyPair(t, "pw")
			signer, err := sign.LoadPrivateKey(private, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			published, err := sign.Attest(ctx, img, signer)
			if err != nil {
				t.Fatal(err)
			}
			if len(published) != 3 || published[2].Platform != "" || len(published[2].Bundles) != 5 {
				t.Errorf("published %+v: want two platforms (2 and 3 statements) and the index with all 5", published)
			}
			v, err := sign.LoadPublicKey(public)
			if err != nil {
				t.Fatal(err)
			}
			_, otherPublic := writeKeyPair(t, "pw")
			other, err := sign.LoadPublicKey(otherPublic)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range img.Platforms {
				found, err := sign.Read(ctx, p.Image)
				if err != nil {
					t.Fatal(err)
				}
				var from []string
				for _, f := range found {
					from = append(from, f.From)
				}
				if n := len(sign.Signable(p.Statements)); len(found) != 2*n || slices.Index(from, sign.FromBundle) != n {
					t.Fatalf("%s: found %q, want %d in the cosign tag then %d bundles", p.Name, from, n, n)
				}
				for _, f := range found {
					if f.From == sign.FromBundle {
						b, err := sign.Bundle(f.Envelope, f.KeyHint)
						if err != nil {
							t.Fatal(err)
						}
						var sb sgbundle.Bundle
						if err := sb.UnmarshalJSON(b); err != nil {
							t.Errorf("%s: sigstore-go refuses the bundle: %v", p.Name, err)
						}
					}
				}
				if err := sign.Check(ctx, ref, p, found, v); err != nil {
					t.Errorf("%s: check with the signer's key: %v", p.Name, err)
				}
				if err := sign.Check(ctx, ref, p, found, other); err == nil || !strings.Contains(err.Error(), "the SPDX SBOM statement") || !strings.Contains(err.Error(), otherPublic) {
					t.Errorf("%s: check with another key: %v", p.Name, err)
				}
				if err := sign.Check(ctx, ref, p, nil, v); err == nil || !strings.Contains(err.Error(), "is not signed") || !strings.Contains(err.Error(), "docker secure attest") {
					t.Errorf("%s: check with no signatures: %v", p.Name, err)
				}
				tampered := tamper(t, found)
				if err := sign.Check(ctx, ref, p, tampered, v); err == nil || !strings.Contains(err.Error(), "signature does not verify") {
					t.Errorf("%s: check of tampered envelopes: %v", p.Name, err)
				}
				changed := p
				changed.Statements = slices.Clone(p.Statements)
				changed.Statements[0].Predicate = json.RawMessage(`{"changed":true}`)
				if err := sign.Check(ctx, ref, changed, found, v); err == nil || !strings.Contains(err.Error(), "differs from the one signed") {
					t.Errorf("%s: check of a statement changed after signing: %v", p.Name, err)
				}
			}
			if !referrers {
				d := img.Platforms[0].Image
				tags, err := remote.List(d.Context())
				if err != nil {
					t.Fatal(err)
				}
				fallback := strings.Replace(d.DigestStr(), ":", "-", 1)
				if !slices.Contains(tags, fallback) || !slices.Contains(tags, fallback+".att") {
					t.Errorf("tags %q: want the referrers tag %s and the cosign tag %s.att", tags, fallback, fallback)
				}
			}
			// Signing again replaces the statements of the cosign tag.
			if _, err := sign.Attest(ctx, img, signer); err != nil {
				t.Fatal(err)
			}
			att, err := remote.Image(sign.AttTag(img.Platforms[0].Image))
			if err != nil {
				t.Fatal(err)
			}
			if layers, _ := att.Layers(); len(layers) != len(sign.Signable(img.Platforms[0].Statements)) {
				t.Errorf("cosign tag after signing twice: %d layers, want %d", len(layers), len(sign.Signable(img.Platforms[0].Statements)))
			}
		})
	}
}

// tamper is found with each envelope's payload changed, its signature kept.
func tamper(t *testing.T, found []sign.Found) []sign.Found {
	var out []sign.Found
	for _, f := range found {
		payload, err := base64.StdEncoding.DecodeString(f.Envelope.Payload)
		if err != nil {
			t.Fatal(err)
		}
		env := *f.Envelope
		env.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"predicate":{`, `"predicate":{"x":1,`, 1)))
		f.Envelope = &env
		out = append(out, f)
	}
	return out
}

// TestReadHostileAttTag: a cosign tag whose layer is no DSSE envelope, as
// anyone who can push may plant, is an error naming the tag and the layer,
// never a list without it, so verify --key fails closed on it.
func TestReadHostileAttTag(t *testing.T) {
	host := testutil.MemoryRegistry(t, nil)
	ref := attesttest.Push(t, host, "app:1",
		attesttest.Platform{OS: "linux", Arch: "amd64", Modules: [][2]string{{"minimist", "1.2.5"}}, Attested: true, AtBuild: []vuln.Finding{minimist}})
	img, err := attest.Read(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := img.Platforms[0].Image
	garbage := static.NewLayer([]byte("{not json"), types.MediaType(sign.MediaTypeDSSE))
	att, err := mutate.AppendLayers(empty.Image, garbage)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(sign.AttTag(d), att); err != nil {
		t.Fatal(err)
	}
	found, err := sign.Read(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "not a DSSE envelope") || !strings.Contains(err.Error(), sign.AttTag(d).String()) {
		t.Errorf("a garbage envelope in the cosign tag: found %d, error %v; want an error naming the tag", len(found), err)
	}
}
