package builder

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/context/docker"
	"github.com/moby/buildkit/client"
	dockerclient "github.com/moby/moby/client"
)

// dockerDriver is Docker Engine's embedded BuildKit.
type dockerDriver struct {
	engine dockerclient.APIClient
}

func (d *dockerDriver) Client(ctx context.Context) (*client.Client, error) {
	return engineBuildKit(ctx, d.engine)
}

func (d *dockerDriver) IsMobyDriver() bool             { return true }
func (d *dockerDriver) Engine() dockerclient.APIClient { return d.engine }

// dockerEngine is the Docker API client of a Docker context, or of a
// daemon address when endpoint names no context (buildx stores either).
// The current context is the CLI's own client.
func dockerEngine(dockerCli command.Cli, endpoint string) (dockerclient.APIClient, error) {
	if endpoint == "" || endpoint == dockerCli.CurrentContext() {
		return dockerCli.Client(), nil
	}
	s := dockerCli.ContextStore()
	meta, err := s.GetMetadata(endpoint)
	if err != nil {
		if strings.Contains(endpoint, "://") {
			return dockerclient.New(dockerclient.WithHost(endpoint), dockerclient.WithAPIVersionNegotiation())
		}
		return nil, fmt.Errorf("Docker context %s: %w", endpoint, err)
	}
	epMeta, err := docker.EndpointFromContext(meta)
	if err != nil {
		return nil, fmt.Errorf("Docker context %s: %w", endpoint, err)
	}
	ep, err := docker.WithTLSData(s, endpoint, epMeta)
	if err != nil {
		return nil, fmt.Errorf("Docker context %s: %w", endpoint, err)
	}
	opts, err := ep.ClientOpts()
	if err != nil {
		return nil, fmt.Errorf("Docker context %s: %w", endpoint, err)
	}
	return dockerclient.New(append(opts, dockerclient.WithAPIVersionNegotiation())...)
}

// engineBuildKit is Docker Engine's embedded BuildKit: gRPC over the
// Docker API's /grpc endpoint upgraded to h2c, and the build session over
// /session, as buildx's docker driver reaches it.
func engineBuildKit(ctx context.Context, engine dockerclient.APIClient) (*client.Client, error) {
	return client.New(ctx, "",
		// The connection outlives the dial: it is bound to the build's
		// context, as the session's is.
		client.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			return engine.DialHijack(ctx, "/grpc", "h2c", nil)
		}),
		client.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return engine.DialHijack(ctx, "/session", proto, meta)
		}))
}

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
