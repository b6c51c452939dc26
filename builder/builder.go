// Package builder chooses the BuildKit a build runs on, as docker buildx
// build chooses it, and reaches it through buildx's own drivers: docker
// (Docker Engine's embedded BuildKit), docker-container, kubernetes and
// remote, or the buildkitd at BUILDKIT_HOST. A builder of several nodes
// spreads the requested platforms over them as buildx does.
package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	bxbuilder "github.com/docker/buildx/builder"
	"github.com/docker/buildx/driver"
	"github.com/docker/buildx/store"
	"github.com/docker/buildx/store/storeutil"
	"github.com/docker/buildx/util/imagetools"
	"github.com/docker/cli/cli/command"

	// The drivers a builder can have, registered with buildx's driver
	// package as docker buildx registers them.
	_ "github.com/docker/buildx/driver/docker"
	_ "github.com/docker/buildx/driver/docker-container"
	_ "github.com/docker/buildx/driver/kubernetes"
	_ "github.com/docker/buildx/driver/remote"
)

// hostDriver names a BUILDKIT_HOST builder in messages; it is reached
// through buildx's remote driver.
const hostDriver = "buildkit-host"

// Builder is the BuildKit a build runs on: its nodes, each with its
// driver, constructed but not yet dialed.
type Builder struct {
	// name is the builder's name as the user knows it (a buildx builder, a
	// Docker context) or the BUILDKIT_HOST address.
	name string
	// chosenBy says what picked it, for messages.
	chosenBy string
	driver   string
	nodes    []bxbuilder.Node
	// defaultLoad is the driver option default-load: a build with no
	// output loads its image into Docker, as --load.
	defaultLoad bool
	imageOpt    imagetools.Opt
	dockerCli   command.Cli
}

// DefaultLoad is the driver option default-load: a build with no output
// loads its image into Docker, as --load.
func (b *Builder) DefaultLoad() bool { return b.defaultLoad }

// ImageOpt is what buildx reaches registries with for this builder: the
// Docker config's credentials and the builder's registry settings.
func (b *Builder) ImageOpt() imagetools.Opt { return b.imageOpt }

func (b *Builder) String() string {
	if b.driver == hostDriver {
		return fmt.Sprintf("BuildKit at %s (BUILDKIT_HOST)", b.name)
	}
	if b.driver == "" {
		// A Docker context's builder before its engine told the driver.
		return fmt.Sprintf("builder %q (chosen by %s)", b.name, b.chosenBy)
	}
	return fmt.Sprintf("builder %q (%s driver, chosen by %s)", b.name, b.driver, b.chosenBy)
}

// Choose picks the builder --builder names (flag, may be empty) or, without
// one, the builder docker buildx build would use, and constructs the
// drivers of its nodes; nothing is dialed yet. contextPath is the build
// context as given: as in buildx, a kubernetes builder of several replicas
// sends the builds of one context to one pod, where its cache is.
//
// The order is docker buildx build's: --builder, BUILDX_BUILDER, then
// (secure-build's own) BUILDKIT_HOST, then the builder "docker buildx use"
// made active, then the current Docker context's engine.
func Choose(ctx context.Context, dockerCli command.Cli, flag, contextPath string) (*Builder, error) {
	if flag == "" && os.Getenv("BUILDX_BUILDER") == "" {
		if host := os.Getenv("BUILDKIT_HOST"); host != "" {
			return hostBuilder(ctx, dockerCli, host)
		}
	}
	txn, release, err := storeutil.GetStore(dockerCli)
	if err != nil {
		return nil, fmt.Errorf("open the buildx store: %w", err)
	}
	defer release()

	if abs, err := filepath.Abs(contextPath); err == nil {
		contextPath = abs
	}
	opts := []bxbuilder.Option{bxbuilder.WithStore(txn), bxbuilder.WithSkippedValidation(), bxbuilder.WithContextPathHash(contextPath)}
	chosenBy := "the current Docker context"
	name := flag
	switch {
	case flag != "":
		chosenBy = "--builder"
	case os.Getenv("BUILDX_BUILDER") != "":
		name, chosenBy = os.Getenv("BUILDX_BUILDER"), "BUILDX_BUILDER"
	}
	if name != "" {
		if err := exists(txn, dockerCli, name, chosenBy); err != nil {
			return nil, err
		}
		opts = append(opts, bxbuilder.WithName(name))
	}
	bb, err := bxbuilder.New(dockerCli, opts...)
	if err != nil {
		return nil, fmt.Errorf("builder %q (from %s): %w", name, chosenBy, err)
	}
	if name == "" && !bb.DockerContext {
		chosenBy = `"docker buildx use"`
	}
	b := &Builder{name: bb.Name, chosenBy: chosenBy, driver: bb.Driver, dockerCli: dockerCli}
	if len(bb.NodeGroup.Nodes) == 0 {
		return nil, fmt.Errorf("%s has no nodes", b)
	}
	// As buildx: each node's driver, made from its store entry; a node
	// whose driver cannot be made (a kubernetes node without a cluster
	// config) fails the build naming it.
	b.nodes, err = bb.LoadNodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	b.driver = bb.Driver // set now for a Docker context's builder
	for _, n := range b.nodes {
		if n.Err != nil {
			return nil, fmt.Errorf("%s, node %s: %w", b, n.Name, n.Err)
		}
	}
	if v, ok := b.nodes[0].DriverOpts["default-load"]; ok {
		if b.defaultLoad, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("%s: driver option default-load=%q: want true or false", b, v)
		}
	}
	b.imageOpt = b.nodes[0].ImageOpt
	return b, nil
}

// hostBuilder is the buildkitd at BUILDKIT_HOST, as a one-node builder of
// buildx's remote driver.
func hostBuilder(ctx context.Context, dockerCli command.Cli, host string) (*Builder, error) {
	b := &Builder{name: host, chosenBy: "BUILDKIT_HOST", driver: hostDriver, dockerCli: dockerCli}
	factory, err := driver.GetFactory("remote", true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	imageOpt, err := storeutil.GetImageConfig(dockerCli, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	d, err := driver.GetDriver(ctx, factory, driver.InitConfig{
		Name:         driver.BuilderName("buildkit-host"),
		EndpointAddr: host,
		ContextStore: dockerCli.ContextStore(),
		Auth:         imageOpt.Auth,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	b.imageOpt = imageOpt
	b.nodes = []bxbuilder.Node{{
		Node:     store.Node{Name: "buildkit-host", Endpoint: host},
		Builder:  host,
		Driver:   d,
		ImageOpt: imageOpt,
	}}
	return b, nil
}

// exists checks that name is a buildx builder or a Docker context (each
// context is a docker-driver builder, "default" included); if neither, the
// error lists those there are.
func exists(txn *store.Txn, dockerCli command.Cli, name, chosenBy string) error {
	stored, err := txn.List()
	if err != nil {
		return fmt.Errorf("no builder %q (from %s), and list the buildx builders: %w", name, chosenBy, err)
	}
	contexts, err := dockerCli.ContextStore().List()
	if err != nil {
		return fmt.Errorf("no builder %q (from %s), and list the Docker contexts: %w", name, chosenBy, err)
	}
	e := &unknownBuilderError{name: name, chosenBy: chosenBy}
	slices.SortFunc(stored, func(a, b *store.NodeGroup) int { return strings.Compare(a.Name, b.Name) })
	for _, ng := range stored {
		if strings.EqualFold(ng.Name, name) {
			return nil
		}
		e.known = append(e.known, fmt.Sprintf("%s (%s)", ng.Name, ng.Driver))
	}
	for _, c := range contexts {
		if c.Name == name {
			return nil
		}
		e.known = append(e.known, fmt.Sprintf("%s (docker)", c.Name))
	}
	return e
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
