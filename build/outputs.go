package build

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/go-csvvalue"
)

// Output is one output of a build as -o, --push and --load name it:
// BuildKit's exporter type and attributes, and where it writes.
type Output struct {
	Type  string
	Attrs map[string]string
	Dest  string
	// spec is the flag's value, for messages.
	spec string
}

// ParseOutputs reads -o, --push, --load and -t as docker buildx build
// does, and refuses what no builder could export. What a given builder
// makes of them (Docker Engine's moby exporter, a load into Docker) is
// NewExports's.
func ParseOutputs(outputs []string, push, load bool, tags []string) ([]Output, error) {
	if push {
		outputs = append(outputs, "type=registry")
	}
	if load {
		outputs = append(outputs, "type=docker")
	}
	var out []Output
	for _, spec := range outputs {
		o, err := parseOutput(spec, push, tags)
		if err != nil {
			return nil, fmt.Errorf("--output %q: %w", spec, err)
		}
		o.spec = spec
		out = append(out, o)
	}
	return out, nil
}

func parseOutput(spec string, push bool, tags []string) (Output, error) {
	o := Output{Attrs: map[string]string{}}
	fields, err := csvvalue.Fields(spec, nil)
	if err != nil {
		return o, err
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			// "-o DIR" is type=local,dest=DIR, as in buildx.
			if len(fields) == 1 {
				return Output{Type: client.ExporterLocal, Attrs: map[string]string{}, Dest: f}, nil
			}
			return o, fmt.Errorf("%q: want key=value", f)
		}
		switch k = strings.ToLower(k); k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			o.Attrs[k] = v
		}
	}
	if o.Type == "registry" {
		o.Type = client.ExporterImage
		o.Attrs["push"] = "true"
	}
	if o.Type == client.ExporterImage || o.Type == client.ExporterDocker || o.Type == client.ExporterOCI {
		if _, ok := o.Attrs["name"]; !ok && len(tags) > 0 {
			o.Attrs["name"] = strings.Join(tags, ",")
		}
	}
	if o.Type == client.ExporterImage && push {
		o.Attrs["push"] = "true"
	}
	switch o.Type {
	case client.ExporterImage:
		if o.Attrs["push"] == "true" && o.Attrs["name"] == "" {
			// As docker buildx build says it, before building anything.
			return o, errors.New("tag is needed when pushing to registry: give one with -t NAME:TAG")
		}
		if o.Dest != "" {
			return o, errors.New("the image exporter takes no dest")
		}
	case client.ExporterLocal:
		if o.Dest == "" {
			return o, errors.New("type=local needs dest=DIR")
		}
	case client.ExporterOCI, client.ExporterTar, client.ExporterDocker:
		switch {
		case o.Type != client.ExporterTar && o.Attrs["tar"] == "false":
			// An OCI layout; a docker one without dest is the engine's.
			if o.Dest == "" && o.Type == client.ExporterOCI {
				return o, errors.New("type=oci,tar=false needs dest=DIR")
			}
		case o.Dest == "" && o.Type == client.ExporterDocker:
			// The image goes into Docker: which way is the builder's.
		case o.Dest == "" || o.Dest == "-":
			return o, fmt.Errorf("type=%s needs dest=FILE", o.Type)
		}
	default:
		return o, fmt.Errorf("unknown output type %q: want image, registry, docker, oci, local or tar", o.Type)
	}
	return o, nil
}
