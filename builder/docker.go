package builder

import (
	"context"
	"fmt"

	dockerclient "github.com/moby/moby/client"
)

// KeepsAttestations says whether the engine uses the containerd image
// store, the only one that keeps attestations (and multi-platform images).
func KeepsAttestations(ctx context.Context, engine dockerclient.APIClient) (bool, error) {
	info, err := engine.Info(ctx, dockerclient.InfoOptions{})
	if err != nil {
		return false, fmt.Errorf("ask the Docker Engine for its image store: %w", err)
	}
	for _, kv := range info.Info.DriverStatus {
		if kv[0] == "driver-type" && kv[1] == "io.containerd.snapshotter.v1" {
			return true, nil
		}
	}
	return false, nil
}
