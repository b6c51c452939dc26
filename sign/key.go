// Package sign signs the in-toto statements secure-build attaches to an
// image and publishes them where admission controllers and registries look:
// as DSSE envelopes in cosign's attestation tag (sha256-<digest>.att), read
// by cosign v2 and Kyverno, and as Sigstore bundles (v0.3) that are OCI 1.1
// referrers of the image manifest, read by cosign v3, Ratify and registries'
// referrers listings. It reads them back and checks them with a public key.
//
// Keys are cosign's: an encrypted private key (cosign generate-key-pair) to
// sign, its PEM public key to verify. Keyless signing (Fulcio certificates,
// Rekor entries) is left out: it needs Sigstore's public services, which
// cannot be reached, or tested, offline.
package sign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// The PEM block types of cosign's encrypted private key: cosign v2 and
// later write the first, older versions the second.
const (
	pemSigstorePrivateKey = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemCosignPrivateKey   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// maxKeyFile bounds a key file read into memory: a PEM key is a few
// kilobytes.
const maxKeyFile = 64 << 10

// Signer signs with a private key.
type Signer struct {
	sv signature.SignerVerifier
	// ID names the key: "sha256:" and the hex SHA-256 of its public key
	// (PKIX DER), shown by inspect and written as the bundles' key hint.
	ID string
}

// Verifier checks signatures with a public key.
type Verifier struct {
	v signature.Verifier
	// Path is the key file, for messages; ID names the key as Signer.ID does.
	Path, ID string
}

// LoadPrivateKey reads cosign's encrypted private key from path, decrypted
// with password (cosign's scrypt and secretbox envelope).
func LoadPrivateKey(path string, password []byte) (*Signer, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	if block.Type != pemSigstorePrivateKey && block.Type != pemCosignPrivateKey {
		return nil, fmt.Errorf("private key %s: a PEM %q block, not cosign's encrypted private key (%q): make one with cosign generate-key-pair", path, block.Type, pemSigstorePrivateKey)
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		return nil, fmt.Errorf("private key %s: cannot decrypt it (wrong password? it comes from COSIGN_PASSWORD or the prompt): %w", path, err)
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	if _, ok := pk.(ed25519.PrivateKey); ok {
		// cosign verifies Ed25519 signatures prehashed (Ed25519ph) by default:
		// a plain Ed25519 signature would not pass its verify-attestation.
		return nil, fmt.Errorf("private key %s: an Ed25519 key, which is not supported: use an ECDSA key, as cosign generate-key-pair makes", path)
	}
	sv, err := signature.LoadDefaultSignerVerifier(pk)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	id, err := keyID(pub)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return &Signer{sv: sv, ID: id}, nil
}

// LoadPublicKey reads a PEM public key (cosign.pub) from path.
func LoadPublicKey(path string) (*Verifier, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pem.EncodeToMemory(block))
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	id, err := keyID(pub)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return &Verifier{v: v, Path: path, ID: id}, nil
}

func readPEM(path string) (*pem.Block, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("key %s: larger than %d bytes, not a PEM key", path, maxKeyFile)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("key %s: no PEM block in it", path)
	}
	return block, nil
}

func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
