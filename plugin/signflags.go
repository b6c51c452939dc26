package plugin

import (
	"context"
	"fmt"

	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/sign"
	"github.com/spf13/pflag"
)

// signedFlags are verify's and inspect's signature flags.
type signedFlags struct {
	key           string
	requireSigned bool
}

func (f *signedFlags) bind(flags *pflag.FlagSet) {
	flags.StringVar(&f.key, "key", "", "cosign public key (cosign.pub): every statement must be signed with its private key")
	flags.BoolVar(&f.requireSigned, "require-signed", false, "Fail unless every statement is signed with the --key key")
}

// verifier is the public key to check signatures with; nil without --key.
func (f *signedFlags) verifier() (*sign.Verifier, error) {
	if f.key == "" {
		if f.requireSigned {
			return nil, fmt.Errorf("--require-signed: name the public key to check the signatures with, --key cosign.pub")
		}
		return nil, nil
	}
	return sign.LoadPublicKey(f.key)
}

// checkSignatures checks, with v, the signatures of every platform's
// statements; nothing to do without a key.
func checkSignatures(ctx context.Context, ref string, img *attest.Image, v *sign.Verifier) error {
	if v == nil {
		return nil
	}
	for _, p := range img.Platforms {
		if len(sign.Signable(p.Statements)) == 0 {
			return fmt.Errorf("%s: %s has no attestations whose signature --key %s could check: build and push it with 'docker secure build --push --sign-key'", ref, p.Name, v.Path)
		}
		found, err := sign.Read(ctx, p.Image)
		if err != nil {
			return err
		}
		if err := sign.Check(ctx, ref, p, found, v); err != nil {
			return err
		}
	}
	return nil
}
