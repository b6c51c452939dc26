package plugin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/context/docker"
	"github.com/moby/buildkit/client"
	dockerclient "github.com/moby/moby/client"
)

// The drivers a builder can have; driverHost is a BUILDKIT_HOST address.
const (
	driverDocker    = "docker"
	driverContainer = "docker-container"
	driverRemote    = "remote"
	driverHost      = "buildkit-host"
)

// builderSpec is the BuildKit a build runs on, as chosen before connecting.
type builderSpec struct {
	// name is the builder's name as the user knows it (a buildx builder, a
	// Docker context) or the BUILDKIT_HOST address.
	name string
	// chosenBy says what picked it, for messages.
	chosenBy string
	driver   string
	// endpoint is, for the docker and docker-container drivers, a Docker
	// context name or a Docker host; for remote and BUILDKIT_HOST, the
	// BuildKit address.
	endpoint string
	// node names the docker-container driver's container,
	// buildx_buildkit_<node>.
	node string
	// tls is the remote driver's options: cacert, cert, key, servername.
	tls map[string]string
	// defaultLoad is the driver option default-load: a build with no
	// output loads its image into Docker, as --load.
	defaultLoad bool
}

func (b builderSpec) String() string {
	if b.driver == driverHost {
		return fmt.Sprintf("BuildKit at %s (BUILDKIT_HOST)", b.name)
	}
	return fmt.Sprintf("builder %q (%s driver, chosen by %s)", b.name, b.driver, b.chosenBy)
}

// builderSources is what the choice of builder reads, gathered apart from
// the choice so that a test can make it up.
type builderSources struct {
	flag   string // --builder
	getenv func(string) string
	store  buildxStore
	// contexts are the Docker context names, "default" among them.
	contexts       []string
	currentContext string
	// endpointKey is what buildx keys the active builder by: the context
	// name, or the daemon host for the default context.
	endpointKey string
}

func builderSourcesOf(dockerCli command.Cli, flag string) (builderSources, error) {
	src := builderSources{
		flag:           flag,
		getenv:         os.Getenv,
		store:          defaultBuildxStore(),
		currentContext: dockerCli.CurrentContext(),
		endpointKey:    dockerCli.CurrentContext(),
	}
	list, err := dockerCli.ContextStore().List()
	if err != nil {
		return src, fmt.Errorf("list the Docker contexts: %w", err)
	}
	for _, m := range list {
		src.contexts = append(src.contexts, m.Name)
	}
	if src.currentContext == command.DefaultContextName {
		src.endpointKey = dockerCli.DockerEndpoint().Host
	}
	return src, nil
}

// resolveBuilder chooses the BuildKit in the order docker buildx build
// does: --builder, BUILDX_BUILDER, then (secure-build's own) BUILDKIT_HOST,
// then the builder "docker buildx use" made active, then the engine of the
// current Docker context.
func resolveBuilder(src builderSources) (builderSpec, error) {
	if src.flag != "" {
		return src.named(src.flag, "--builder")
	}
	if name := src.getenv("BUILDX_BUILDER"); name != "" {
		return src.named(name, "BUILDX_BUILDER")
	}
	if host := src.getenv("BUILDKIT_HOST"); host != "" {
		return builderSpec{name: host, chosenBy: "BUILDKIT_HOST", driver: driverHost, endpoint: host}, nil
	}
	active, err := src.store.active(src.endpointKey)
	if err != nil {
		return builderSpec{}, err
	}
	if active != "" {
		b, err := src.named(active, `"docker buildx use"`)
		// As buildx: an active builder since removed leaves the context's.
		if _, gone := errors.AsType[*unknownBuilderError](err); !gone {
			return b, err
		}
	}
	return builderSpec{name: src.currentContext, chosenBy: "the current Docker context", driver: driverDocker, endpoint: src.currentContext}, nil
}

// named looks a builder name up in the buildx store, then among the Docker
// contexts (each is a docker-driver builder, "default" included).
func (src builderSources) named(name, chosenBy string) (builderSpec, error) {
	b, err := src.store.builder(name)
	if err != nil {
		return builderSpec{}, err
	}
	if b == nil {
		if slices.Contains(src.contexts, name) {
			return builderSpec{name: name, chosenBy: chosenBy, driver: driverDocker, endpoint: name}, nil
		}
		return builderSpec{}, src.unknown(name, chosenBy)
	}
	if len(b.Nodes) == 0 {
		return builderSpec{}, fmt.Errorf("builder %q (from %s) has no nodes", name, chosenBy)
	}
	// A builder of several nodes spreads platforms over them in buildx;
	// here the first node builds every platform.
	n := b.Nodes[0]
	spec := builderSpec{name: b.Name, chosenBy: chosenBy, driver: b.Driver, endpoint: n.Endpoint}
	if v, ok := n.DriverOpts["default-load"]; ok {
		load, err := strconv.ParseBool(v)
		if err != nil {
			return builderSpec{}, fmt.Errorf("builder %q: driver option default-load=%q: want true or false", name, v)
		}
		spec.defaultLoad = load
	}
	switch b.Driver {
	case driverDocker:
	case driverContainer:
		spec.node = n.Name
	case driverRemote:
		spec.tls = maps.Clone(n.DriverOpts)
		delete(spec.tls, "default-load")
	default:
		return builderSpec{}, fmt.Errorf("builder %q uses the %s driver; docker secure build supports the docker, docker-container and remote drivers", name, b.Driver)
	}
	return spec, nil
}

// unknownBuilderError is a builder name that is neither a buildx builder
// nor a Docker context; it lists those that are.
type unknownBuilderError struct {
	name, chosenBy string
	known          []string
}

func (e *unknownBuilderError) Error() string {
	return fmt.Sprintf("no builder %q (from %s): the builders are %s", e.name, e.chosenBy, strings.Join(e.known, ", "))
}

func (src builderSources) unknown(name, chosenBy string) error {
	e := &unknownBuilderError{name: name, chosenBy: chosenBy}
	stored, err := src.store.builders()
	if err != nil {
		return fmt.Errorf("no builder %q (from %s), and %w", name, chosenBy, err)
	}
	for _, b := range stored {
		e.known = append(e.known, fmt.Sprintf("%s (%s)", b.Name, b.Driver))
	}
	for _, c := range src.contexts {
		e.known = append(e.known, fmt.Sprintf("%s (docker)", c))
	}
	return e
}

// connectedBuilder is a builder reached: its BuildKit client and, for the
// docker driver, the engine it is part of.
type connectedBuilder struct {
	builderSpec
	*client.Client
	// engine is set for the docker driver: the moby exporter loads into it.
	engine dockerclient.APIClient
}

// connectBuilder reaches the builder's BuildKit.
func connectBuilder(ctx context.Context, dockerCli command.Cli, spec builderSpec) (*connectedBuilder, error) {
	cb := &connectedBuilder{builderSpec: spec}
	var err error
	switch spec.driver {
	case driverHost:
		cb.Client, err = client.New(ctx, spec.endpoint)
	case driverRemote:
		var opts []client.ClientOpt
		if opts, err = remoteTLS(spec); err == nil {
			cb.Client, err = client.New(ctx, spec.endpoint, opts...)
		}
	case driverDocker:
		if cb.engine, err = dockerEngine(dockerCli, spec.endpoint); err == nil {
			cb.Client, err = engineBuildKit(ctx, cb.engine)
		}
	case driverContainer:
		var engine dockerclient.APIClient
		if engine, err = dockerEngine(dockerCli, spec.endpoint); err == nil {
			cb.Client, err = containerBuildKit(ctx, engine, "buildx_buildkit_"+spec.node)
		}
	default:
		err = fmt.Errorf("unknown driver %q", spec.driver)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", spec, err)
	}
	return cb, nil
}

// remoteTLS turns the remote driver's options into BuildKit client TLS
// settings; as buildx, the server name defaults to the endpoint's host.
func remoteTLS(spec builderSpec) ([]client.ClientOpt, error) {
	if len(spec.tls) == 0 {
		return nil, nil
	}
	for k := range spec.tls {
		if k != "cacert" && k != "cert" && k != "key" && k != "servername" {
			return nil, fmt.Errorf("remote driver option %q: want cacert, cert, key or servername", k)
		}
	}
	serverName := spec.tls["servername"]
	if serverName == "" {
		u, err := url.Parse(spec.endpoint)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", spec.endpoint, err)
		}
		serverName = u.Hostname()
	}
	opts := []client.ClientOpt{client.WithServerConfig(serverName, spec.tls["cacert"])}
	cert, key := spec.tls["cert"], spec.tls["key"]
	if (cert == "") != (key == "") {
		return nil, errors.New("the remote driver's TLS needs both cert and key, or neither")
	}
	if cert != "" {
		opts = append(opts, client.WithCredentials(cert, key))
	}
	return opts, nil
}

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

// engineKeepsAttestations says whether the engine uses the containerd image
// store, the only one that keeps attestations (and multi-platform images).
func engineKeepsAttestations(ctx context.Context, engine dockerclient.APIClient) (bool, error) {
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

// loadEngine is the engine images are loaded into: the builder's own for
// the docker driver, else the current Docker context's, as buildx loads.
func (c *connectedBuilder) loadEngine(dockerCli command.Cli) dockerclient.APIClient {
	if c.engine != nil {
		return c.engine
	}
	return dockerCli.Client()
}
