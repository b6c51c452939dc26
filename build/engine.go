package build

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config/configfile"
	dockerclient "github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/jsonmessage"
)

// loadImage loads an image tar into the engine: --load with a BuildKit
// outside Docker Engine, once the build has passed.
func loadImage(ctx context.Context, engine dockerclient.APIClient, tar io.Reader, progress io.Writer) error {
	res, err := engine.ImageLoad(ctx, tar)
	if err != nil {
		return fmt.Errorf("load the image into Docker: %w", err)
	}
	defer res.Close()
	return jsonmessage.DisplayJSONMessagesStream(res, progress, 0, false, nil)
}

// pushFromEngine pushes each name from the engine with the credentials the
// Docker config (or its credential helper) holds for the registry.
func pushFromEngine(ctx context.Context, engine dockerclient.APIClient, config *configfile.ConfigFile, names []string, progress io.Writer) error {
	for _, name := range names {
		auth, err := command.RetrieveAuthTokenFromImage(config, name)
		if err != nil {
			return fmt.Errorf("push %s: registry credentials: %w", name, err)
		}
		res, err := engine.ImagePush(ctx, name, dockerclient.ImagePushOptions{RegistryAuth: auth})
		if err != nil {
			return fmt.Errorf("push %s: %w", name, err)
		}
		err = jsonmessage.DisplayJSONMessagesStream(res, progress, 0, false, nil)
		res.Close()
		if err != nil {
			return fmt.Errorf("push %s: %w", name, err)
		}
	}
	return nil
}
