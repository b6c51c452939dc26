package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker/cli/cli/command"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/sign"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newAttestCmd(dockerCli command.Cli) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "attest [OPTIONS] IMAGE",
		Short: "Sign a pushed image's SBOM, scan and OpenVEX statements with a cosign key",
		Long: `Read the statements "docker secure build" attached to IMAGE (the SPDX SBOM, the
scan result and the OpenVEX document of each platform), sign each as a DSSE
envelope with the cosign private key --key names, its subject the platform's
image manifest (and the index), and publish them where admission controllers
look: cosign's attestation tag (sha256-<digest>.att, read by cosign
verify-attestation and Kyverno) and Sigstore bundles (v0.3) as OCI 1.1
referrers of the image manifest (cosign v3, Ratify, registries' referrers
listings). A registry without the referrers API gets the referrers tag
schema instead.

Use it in the CI job step after a build with the frontend, which never holds
keys; "docker secure build --push --sign-key" does the same as part of a build.

The key is cosign's encrypted private key (cosign generate-key-pair); its
password comes from COSIGN_PASSWORD, or is asked on the terminal. Keyless
signing (Fulcio, Rekor) is not done. Exit status: 0 signed; 2 an error (no
such image, no attestations, a bad key or password, a registry error).`,
		Example: `  # Sign an image built by the frontend in CI
  COSIGN_PASSWORD=... docker secure attest --key cosign.key registry.example.com/app:1.4

  # Then check it as a cluster would
  cosign verify-attestation --key cosign.pub --type vuln --insecure-ignore-tlog registry.example.com/app@sha256:...`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return fmt.Errorf("--key: name the cosign private key to sign with (cosign generate-key-pair makes one)")
			}
			signer, err := loadSigningKey(dockerCli, key)
			if err != nil {
				return err
			}
			return signImage(cmd.Context(), dockerCli.Err(), args[0], signer)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign private key to sign with (password from COSIGN_PASSWORD or a prompt)")
	return cmd
}

// signImage signs and publishes the statements of ref and says what it
// wrote on w.
func signImage(ctx context.Context, w io.Writer, ref string, signer *sign.Signer) error {
	img, err := attest.Read(ctx, ref, nil)
	if err != nil {
		return err
	}
	published, err := sign.Attest(ctx, img, signer)
	if err != nil {
		return err
	}
	for _, p := range published {
		what := "index"
		if p.Platform != "" {
			what = p.Platform
		}
		fmt.Fprintf(w, "signed %s %s with %s: %d statements in %s and %d bundle referrers\n",
			what, p.Subject.DigestStr(), signer.ID, len(p.PredicateTypes), p.AttTag.TagStr(), len(p.Bundles))
	}
	return nil
}

// loadSigningKey reads the cosign private key at path, its password from
// COSIGN_PASSWORD or, on a terminal, a prompt, as cosign does.
func loadSigningKey(dockerCli command.Cli, path string) (*sign.Signer, error) {
	password, ok := os.LookupEnv("COSIGN_PASSWORD")
	if !ok {
		in := dockerCli.In()
		if !in.IsTerminal() {
			return nil, fmt.Errorf("private key %s: set COSIGN_PASSWORD to its password (there is no terminal to ask it on)", path)
		}
		fmt.Fprintf(dockerCli.Err(), "Enter password for private key %s: ", path)
		b, err := term.ReadPassword(int(in.FD()))
		fmt.Fprintln(dockerCli.Err())
		if err != nil {
			return nil, fmt.Errorf("private key %s: read its password: %w", path, err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	return sign.LoadPrivateKey(path, []byte(password))
}

// signPushed signs the image a build pushed, by digest, in each repository
// it was pushed to.
func signPushed(ctx context.Context, w io.Writer, resp *client.SolveResponse, signer *sign.Signer) error {
	digest := resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	names := resp.ExporterResponse[exptypes.ExporterImageNameKey]
	if digest == "" || names == "" {
		return fmt.Errorf("--sign-key: the builder did not say what it pushed (no image name and digest in its response)")
	}
	done := map[string]bool{}
	for n := range strings.SplitSeq(names, ",") {
		r, err := name.ParseReference(n)
		if err != nil {
			return fmt.Errorf("--sign-key: pushed image %q: %w", n, err)
		}
		repo := r.Context().Name()
		if done[repo] {
			continue
		}
		done[repo] = true
		if err := signImage(ctx, w, repo+"@"+digest, signer); err != nil {
			return fmt.Errorf("--sign-key: %w", err)
		}
	}
	return nil
}
