package plugin

import (
	"fmt"
	"os"

	"github.com/docker/cli/cli/command"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/secure-build/secure-build/dbimage"
	"github.com/secure-build/secure-build/registry"
	"github.com/spf13/cobra"
)

func newDBPushCmd(dockerCli command.Cli) *cobra.Command {
	var db dbFlags
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] REF",
		Short: "Push the database to a registry as an image, for CI and air-gapped builds",
		Long: `Pack the local database as an image (an ordinary config and one layer holding
the archive files, compacted) and push it to REF, with the credentials of the
Docker config. A build then reads it with the build arg
SECURE_BUILD_DB_IMAGE=REF, or the context secure-build-db=docker-image://REF.
The image's creation time is the data's: when its oldest archive was imported.`,
		Example: `  docker secure db update
  docker secure db push registry.example.com/secure-build/db:latest

  # In CI, with the frontend image and no plugin
  docker buildx build --build-arg BUILDKIT_SYNTAX=registry.example.com/secure-build/frontend:1 \
    --build-arg SECURE_BUILD_DB_IMAGE=registry.example.com/secure-build/db:latest .`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := name.ParseReference(args[0])
			if err != nil {
				return fmt.Errorf("image reference %q: %w", args[0], err)
			}
			dir, err := db.resolve()
			if err != nil {
				return err
			}
			img, err := dbimage.Image(dir, os.TempDir())
			if err != nil {
				return err
			}
			defer img.Close()
			if err := remote.Write(ref, img, registry.Options(cmd.Context())...); err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
			digest, err := img.Digest()
			if err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
			fmt.Fprintf(dockerCli.Out(), "%s@%s\n", ref.Context().Name(), digest)
			return nil
		},
	}
	db.bind(cmd.Flags())
	return cmd
}
