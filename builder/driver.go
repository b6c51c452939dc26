package builder

import (
	"context"
	"fmt"

	"github.com/docker/buildx/build/resolver"
	bxbuilder "github.com/docker/buildx/builder"
	"github.com/docker/buildx/driver"
	"github.com/moby/buildkit/client"
	dockerclient "github.com/moby/moby/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Driver reaches one node's BuildKit. It is buildx's driver.Driver cut to
// what a build needs.
type Driver interface {
	// Client dials the node's BuildKit, starting it first as buildx does
	// (a docker-container builder's container, a kubernetes builder's
	// deployment). The caller closes it.
	Client(ctx context.Context) (*client.Client, error)
	// IsMobyDriver tells Docker Engine's embedded BuildKit: its exporter
	// is moby, and the image it exports is in the engine already.
	IsMobyDriver() bool
	// Engine is the Docker Engine images are loaded into and pushed from:
	// the builder's own for the docker driver, else the current Docker
	// context's, as buildx loads.
	Engine() dockerclient.APIClient
}

// Node is one node of a builder and the platforms it builds.
type Node struct {
	// Name is the node's name in the buildx store.
	Name string
	// Platforms are the requested platforms this node builds; none when
	// the build named none (the node's default platform).
	Platforms []ocispecs.Platform
	Driver    Driver
}

// Nodes spreads the requested platforms over the builder's nodes as
// docker buildx build does (buildx's resolver: each platform to the node
// that declares it, else to one whose workers support it, else to the
// first node) and returns the nodes that build something. A builder of one
// node builds every platform there, and nothing is dialed yet.
func (b *Builder) Nodes(ctx context.Context, platforms []ocispecs.Platform) ([]Node, error) {
	if len(b.nodes) == 1 {
		n := b.nodes[0]
		d := &nodeDriver{handle: n.Driver, engine: b.engine(n)}
		d.client = func(ctx context.Context) (*client.Client, error) {
			if n.Driver.Factory().Name() == "remote" {
				// Booting a remote node only waits, up to 20 s, for its
				// address to answer, and then says no more than that the
				// wait ended: dialed at once, an unreachable one says why.
				return n.Driver.Client(ctx)
			}
			return driver.Boot(ctx, ctx, n.Driver, nil)
		}
		return []Node{{Name: n.Name, Platforms: platforms, Driver: d}}, nil
	}
	resolved, err := resolver.Resolve(ctx, b.nodes, platforms, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: spread %d platforms over its %d nodes: %w", b, len(platforms), len(b.nodes), err)
	}
	out := make([]Node, 0, len(resolved))
	for _, r := range resolved {
		n := r.Node()
		d := &nodeDriver{handle: n.Driver, engine: b.engine(n), client: r.Client}
		out = append(out, Node{Name: n.Name, Platforms: r.Platforms(), Driver: d})
	}
	return out, nil
}

// engine is the Docker Engine a node's images go into: the node's own for
// the docker driver, the current context's otherwise.
func (b *Builder) engine(n bxbuilder.Node) dockerclient.APIClient {
	if n.Driver.IsMobyDriver() {
		if api := n.Driver.Config().DockerAPI; api != nil {
			return api
		}
	}
	return b.dockerCli.Client()
}

// nodeDriver is a node's buildx driver behind Driver.
type nodeDriver struct {
	handle *driver.DriverHandle
	engine dockerclient.APIClient
	client func(context.Context) (*client.Client, error)
}

func (d *nodeDriver) Client(ctx context.Context) (*client.Client, error) { return d.client(ctx) }
func (d *nodeDriver) IsMobyDriver() bool                                 { return d.handle.IsMobyDriver() }
func (d *nodeDriver) Engine() dockerclient.APIClient                     { return d.engine }

// NodeString names a node of b for messages: b itself when it has one.
func (b *Builder) NodeString(n Node) string {
	if len(b.nodes) == 1 {
		return b.String()
	}
	return fmt.Sprintf("node %s of %s", n.Name, b)
}
