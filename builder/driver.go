package builder

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/docker/cli/cli/command"
	"github.com/moby/buildkit/client"
	dockerclient "github.com/moby/moby/client"
)

// Driver reaches a builder's BuildKit. It is shaped like buildx's
// driver.Driver, cut to what a build needs, so that buildx's own drivers
// can stand behind it.
type Driver interface {
	// Client dials the builder's BuildKit; its connections are bound to
	// ctx. The caller closes it.
	Client(ctx context.Context) (*client.Client, error)
	// IsMobyDriver tells Docker Engine's embedded BuildKit: its exporter
	// is moby, and the image it exports is in the engine already.
	IsMobyDriver() bool
	// Engine is the Docker Engine images are loaded into and pushed from:
	// the builder's own for the docker driver, else the current Docker
	// context's, as buildx loads.
	Engine() dockerclient.APIClient
}

// Driver makes the driver that reaches b; nothing is dialed yet.
func (b Builder) Driver(dockerCli command.Cli) (Driver, error) {
	switch b.driver {
	case driverHost, driverRemote:
		opts, err := remoteTLS(b)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", b, err)
		}
		return &remoteDriver{address: b.endpoint, opts: opts, engine: dockerCli.Client()}, nil
	case driverDocker, driverContainer:
		engine, err := dockerEngine(dockerCli, b.endpoint)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", b, err)
		}
		if b.driver == driverDocker {
			return &dockerDriver{engine: engine}, nil
		}
		return &containerDriver{engine: engine, container: "buildx_buildkit_" + b.node, load: dockerCli.Client()}, nil
	}
	return nil, fmt.Errorf("connect to %s: unknown driver %q", b, b.driver)
}

// remoteDriver is a buildkitd reached at its address: the remote driver's
// endpoint, or BUILDKIT_HOST.
type remoteDriver struct {
	address string
	opts    []client.ClientOpt
	engine  dockerclient.APIClient
}

func (d *remoteDriver) Client(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, d.address, d.opts...)
}

func (d *remoteDriver) IsMobyDriver() bool             { return false }
func (d *remoteDriver) Engine() dockerclient.APIClient { return d.engine }

// remoteTLS turns the remote driver's options into BuildKit client TLS
// settings; as buildx, the server name defaults to the endpoint's host.
func remoteTLS(b Builder) ([]client.ClientOpt, error) {
	if len(b.tls) == 0 {
		return nil, nil
	}
	for k := range b.tls {
		if k != "cacert" && k != "cert" && k != "key" && k != "servername" {
			return nil, fmt.Errorf("remote driver option %q: want cacert, cert, key or servername", k)
		}
	}
	serverName := b.tls["servername"]
	if serverName == "" {
		u, err := url.Parse(b.endpoint)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", b.endpoint, err)
		}
		serverName = u.Hostname()
	}
	opts := []client.ClientOpt{client.WithServerConfig(serverName, b.tls["cacert"])}
	cert, key := b.tls["cert"], b.tls["key"]
	if (cert == "") != (key == "") {
		return nil, errors.New("the remote driver's TLS needs both cert and key, or neither")
	}
	if cert != "" {
		opts = append(opts, client.WithCredentials(cert, key))
	}
	return opts, nil
}
