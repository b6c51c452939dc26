// Package builder chooses the BuildKit a build runs on, as docker buildx
// build chooses it, and reaches it through a driver: Docker Engine's
// embedded BuildKit, a buildx docker-container builder, a remote buildkitd
// or BUILDKIT_HOST.
package builder

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/command"
)

// The drivers a builder can have; driverHost is a BUILDKIT_HOST address.
const (
	driverDocker    = "docker"
	driverContainer = "docker-container"
	driverRemote    = "remote"
	driverHost      = "buildkit-host"
)

// Builder is the BuildKit a build runs on, as chosen before connecting.
type Builder struct {
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

// DefaultLoad is the driver option default-load: a build with no output
// loads its image into Docker, as --load.
func (b Builder) DefaultLoad() bool { return b.defaultLoad }

func (b Builder) String() string {
	if b.driver == driverHost {
		return fmt.Sprintf("BuildKit at %s (BUILDKIT_HOST)", b.name)
	}
	return fmt.Sprintf("builder %q (%s driver, chosen by %s)", b.name, b.driver, b.chosenBy)
}

// Choose picks the builder --builder names (flag, may be empty) or, without
// one, the builder docker buildx build would use.
func Choose(dockerCli command.Cli, flag string) (Builder, error) {
	src, err := sourcesOf(dockerCli, flag)
	if err != nil {
		return Builder{}, err
	}
	return resolve(src)
}

// sources is what the choice of builder reads, gathered apart from
// the choice so that a test can make it up.
type sources struct {
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

func sourcesOf(dockerCli command.Cli, flag string) (sources, error) {
	src := sources{
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

// resolve chooses the BuildKit in the order docker buildx build
// does: --builder, BUILDX_BUILDER, then (secure-build's own) BUILDKIT_HOST,
// then the builder "docker buildx use" made active, then the engine of the
// current Docker context.
func resolve(src sources) (Builder, error) {
	if src.flag != "" {
		return src.named(src.flag, "--builder")
	}
	if name := src.getenv("BUILDX_BUILDER"); name != "" {
		return src.named(name, "BUILDX_BUILDER")
	}
	if host := src.getenv("BUILDKIT_HOST"); host != "" {
		return Builder{name: host, chosenBy: "BUILDKIT_HOST", driver: driverHost, endpoint: host}, nil
	}
	active, err := src.store.active(src.endpointKey)
	if err != nil {
		return Builder{}, err
	}
	if active != "" {
		b, err := src.named(active, `"docker buildx use"`)
		// As buildx: an active builder since removed leaves the context's.
		if _, gone := errors.AsType[*unknownBuilderError](err); !gone {
			return b, err
		}
	}
	return Builder{name: src.currentContext, chosenBy: "the current Docker context", driver: driverDocker, endpoint: src.currentContext}, nil
}

// named looks a builder name up in the buildx store, then among the Docker
// contexts (each is a docker-driver builder, "default" included).
func (src sources) named(name, chosenBy string) (Builder, error) {
	b, err := src.store.builder(name)
	if err != nil {
		return Builder{}, err
	}
	if b == nil {
		if slices.Contains(src.contexts, name) {
			return Builder{name: name, chosenBy: chosenBy, driver: driverDocker, endpoint: name}, nil
		}
		return Builder{}, src.unknown(name, chosenBy)
	}
	if len(b.Nodes) == 0 {
		return Builder{}, fmt.Errorf("builder %q (from %s) has no nodes", name, chosenBy)
	}
	// A builder of several nodes spreads platforms over them in buildx;
	// here the first node builds every platform.
	n := b.Nodes[0]
	spec := Builder{name: b.Name, chosenBy: chosenBy, driver: b.Driver, endpoint: n.Endpoint}
	if v, ok := n.DriverOpts["default-load"]; ok {
		load, err := strconv.ParseBool(v)
		if err != nil {
			return Builder{}, fmt.Errorf("builder %q: driver option default-load=%q: want true or false", name, v)
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
		return Builder{}, fmt.Errorf("builder %q uses the %s driver; docker secure build supports the docker, docker-container and remote drivers", name, b.Driver)
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

func (src sources) unknown(name, chosenBy string) error {
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
