package origin

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-build/secure-build/sbom"
)

// ImageLayer is what is known of one layer of an image scanned without its
// build: its diff ID, the history entry that made it, and, when the image
// carries BuildKit provenance with source locations, the Dockerfile
// instruction.
type ImageLayer struct {
	DiffID    string
	CreatedBy string
	// File, StartLine, EndLine and Instruction locate the instruction that
	// made the layer; zero when unknown.
	File        string
	StartLine   int
	EndLine     int
	Instruction string
}

// ImageBase says which layers of an image are its base image's: the first
// Layers of them.
type ImageBase struct {
	Layers int
	// Name and Digest name the base image, when known.
	Name   string
	Digest string
	// Approximate marks a boundary guessed from the history.
	Approximate bool
}

// ImageFacts are an image's layers, base first, and its base boundary (nil
// when unknown: every package is then given to its layer).
type ImageFacts struct {
	Layers []ImageLayer
	Base   *ImageBase
}

// LayersOf is the layers of an image as its config tells them: the diff
// IDs, and the history entries that made a layer (those not marked
// empty_layer), matched with the layers in order. When the history has
// another number of such entries than there are layers it cannot be
// matched, and only the diff IDs are given.
func LayersOf(cfg *v1.ConfigFile) []ImageLayer {
	out := make([]ImageLayer, len(cfg.RootFS.DiffIDs))
	for i, id := range cfg.RootFS.DiffIDs {
		out[i].DiffID = id.String()
	}
	var made []v1.History
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			made = append(made, h)
		}
	}
	if len(made) != len(out) {
		return out
	}
	for i, h := range made {
		out[i].CreatedBy = h.CreatedBy
	}
	return out
}

// Prefixes of the history entries an image's last CMD or ENTRYPOINT makes:
// docker build's and BuildKit's.
var finalConfigPrefixes = []string{
	"/bin/sh -c #(nop)  CMD", "CMD",
	"/bin/sh -c #(nop)  ENTRYPOINT", "ENTRYPOINT",
}

// ProbableBase guesses where an image's base ends from its history, as
// osv-scalibr does: a base image usually ends with a CMD or an
// ENTRYPOINT, which make no layer. Going back from the last layer made,
// the first such entry before it is taken as the base's last. Nil when
// there is none, or the history does not match the layers.
func ProbableBase(cfg *v1.ConfigFile) *ImageBase {
	made := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			made++
		}
	}
	if made != len(cfg.RootFS.DiffIDs) {
		return nil
	}
	seenLayer := false
	for i := len(cfg.History) - 1; i >= 0; i-- {
		h := cfg.History[i]
		if !h.EmptyLayer {
			seenLayer = true
			continue
		}
		if !seenLayer || !hasAnyPrefix(h.CreatedBy, finalConfigPrefixes) {
			continue
		}
		below := 0
		for _, e := range cfg.History[:i] {
			if !e.EmptyLayer {
				below++
			}
		}
		if below == 0 {
			return nil
		}
		return &ImageBase{Layers: below, Approximate: true}
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TraceImage attributes each package location of doc, the catalog of an
// image whose unpack kept layers, to the layer it came from: a package
// file the catalog reads for its content goes to the first layer from
// which the package is in it in its final version (walking back from the
// last layer, only over the layers that changed the file), so that a
// package a later layer upgraded is that layer's; a binary goes to the
// layer that last wrote it. Layers below facts.Base are the base image's.
// A location whose layer cannot be told (a bound cut a version short, a
// version the extractors fail on) is unknown with why: never base.
func TraceImage(ctx context.Context, doc *sbom.SBOM, layers *sbom.ImageLayers, facts ImageFacts) Attribution {
	out := Attribution{}
	for _, p := range doc.Packages {
		for _, loc := range p.Locations {
			k, err := layerOf(ctx, layers, p.PURL, loc)
			if err != nil {
				out[Key{PURL: p.PURL, Location: loc}] = Origin{Kind: Unknown, Reason: err.Error()}
				continue
			}
			out[Key{PURL: p.PURL, Location: loc}] = facts.origin(k)
		}
	}
	return out
}

// layerOf is the layer a package location came from.
func layerOf(ctx context.Context, layers *sbom.ImageLayers, purl, loc string) (int, error) {
	if !layers.Traced(loc) {
		if k, ok := layers.LastWriter(loc); ok {
			return k, nil
		}
		return 0, fmt.Errorf("%s: the layer that wrote it is not known", loc)
	}
	for k := layers.Len() - 1; k >= 1; k-- {
		changed, err := layers.Changed(loc, k)
		if err != nil {
			return 0, err
		}
		if !changed {
			continue
		}
		has, err := layers.Has(ctx, purl, loc, k-1)
		if err != nil {
			return 0, err
		}
		if !has {
			return k, nil
		}
	}
	return 0, nil
}

// origin is the origin of what layer k brought.
func (f ImageFacts) origin(k int) Origin {
	o := Origin{Kind: Layer, Layer: &k}
	if k < len(f.Layers) {
		l := f.Layers[k]
		o.DiffID, o.CreatedBy = l.DiffID, l.CreatedBy
		o.File, o.StartLine, o.EndLine, o.Instruction = l.File, l.StartLine, l.EndLine, l.Instruction
	}
	if b := f.Base; b != nil && k < b.Layers {
		o.Kind, o.Image, o.Digest, o.Approximate = Base, b.Name, b.Digest, b.Approximate
		if b.Approximate {
			o.Reason = "probable base: the image's history up to its base's CMD or ENTRYPOINT"
		}
	}
	return o
}

// Unknowns gives every package location of doc an unknown origin, for
// reason: an attribution that could not be made is never taken for base.
func Unknowns(doc *sbom.SBOM, reason string) Attribution {
	out := Attribution{}
	for _, p := range doc.Packages {
		for _, loc := range p.Locations {
			out[Key{PURL: p.PURL, Location: loc}] = Origin{Kind: Unknown, Reason: reason}
		}
	}
	return out
}
