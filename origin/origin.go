// Package origin says where a package of an image came from: the base image
// the final stage was built FROM, the Dockerfile instruction that added or
// changed it, or, for an image scanned without its build, the layer that did.
// It knows nothing of vulnerabilities: a finding takes the origins of its
// package's locations.
package origin

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Kind is what brought a package into the image.
type Kind string

const (
	// Base: present unchanged in the final stage's external base image.
	Base Kind = "base"
	// Instruction: added or changed by an instruction of the Dockerfile.
	Instruction Kind = "instruction"
	// Layer: added or changed by a layer of an image scanned without its
	// build; CreatedBy says what made the layer when the history does.
	Layer Kind = "layer"
	// Unknown: could not be decided; Reason says why. A gate on what a
	// build added counts it as added: fail closed.
	Unknown Kind = "unknown"
)

// Origin is where one package location came from. Which fields are set
// depends on Kind; the Dockerfile range is set for a base (its FROM line)
// and an instruction, and for a layer when provenance names the lines.
type Origin struct {
	Kind Kind `json:"kind"`
	// Image is the base image as the FROM line names it (ARGs expanded),
	// Digest what it resolved to.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	// File, StartLine and EndLine locate the instruction (1-based lines; a
	// multi-line RUN or a heredoc spans several).
	File      string `json:"file,omitempty"`
	StartLine int    `json:"startLine,omitempty"`
	EndLine   int    `json:"endLine,omitempty"`
	// Instruction is the instruction as written, continuation lines and
	// heredoc bodies included.
	Instruction string `json:"instruction,omitempty"`
	// Stage is the build stage the instruction belongs to: the final stage
	// or one it is built FROM.
	Stage string `json:"stage,omitempty"`
	// CopiedFrom is, for COPY --from, the stage, image or named context the
	// files came from.
	CopiedFrom string `json:"copiedFrom,omitempty"`
	// Layer is the index of the image layer (from 0, base first), DiffID
	// its uncompressed digest and CreatedBy its history entry.
	Layer     *int   `json:"layer,omitempty"`
	DiffID    string `json:"diffID,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
	// Approximate marks an origin known only to a span of instructions or
	// to a probable base boundary.
	Approximate bool   `json:"approximate,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Added says whether the package is not the base image's: a gate on what a
// build added must count it. Unknown origins count, so that what could not
// be attributed is never waved through as inherited.
func (o Origin) Added() bool {
	return o.Kind != Base
}

// maxInstructionText bounds an instruction in one-line texts.
const maxInstructionText = 60

// String is the origin in a table cell: "base debian:12-slim",
// "Dockerfile:7 RUN apt-get install -y curl",
// "Dockerfile:15 COPY --from=build", "layer 3 RUN /bin/sh -c …".
func (o Origin) String() string {
	switch o.Kind {
	case Base:
		if o.Image == "" {
			return "base"
		}
		return "base " + o.Image
	case Instruction:
		return strings.TrimSpace(o.Location() + " " + FirstLine(o.Instruction, maxInstructionText))
	case Layer:
		s := "layer ?"
		if o.Layer != nil {
			s = fmt.Sprintf("layer %d", *o.Layer)
		}
		if o.StartLine > 0 {
			s += " " + o.Location()
		}
		if o.CreatedBy != "" {
			s += " " + FirstLine(o.CreatedBy, maxInstructionText)
		}
		return s
	}
	if o.Reason != "" {
		return "unknown: " + o.Reason
	}
	return "unknown"
}

// Location is "Dockerfile:7", or "Dockerfile:7-9" for a range; empty when
// the origin has no lines.
func (o Origin) Location() string {
	if o.StartLine == 0 {
		return ""
	}
	file := o.File
	if file == "" {
		file = "Dockerfile"
	}
	if o.EndLine > o.StartLine {
		return fmt.Sprintf("%s:%d-%d", file, o.StartLine, o.EndLine)
	}
	return fmt.Sprintf("%s:%d", file, o.StartLine)
}

// FirstLine is text's first line, cut to max runes with "…" when longer or
// when more lines follow.
func FirstLine(text string, max int) string {
	line, rest, more := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), "\\"))
	if r := []rune(line); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	if more && strings.TrimSpace(rest) != "" {
		return line + " …"
	}
	return line
}

// Compare orders origins: base first, then by Dockerfile line, then by
// layer, then the rest.
func Compare(a, b Origin) int {
	rank := func(k Kind) int { return slices.Index([]Kind{Base, Instruction, Layer, Unknown}, k) }
	layer := func(o Origin) int {
		if o.Layer == nil {
			return -1
		}
		return *o.Layer
	}
	return cmp.Or(
		cmp.Compare(rank(a.Kind), rank(b.Kind)),
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.StartLine, b.StartLine),
		cmp.Compare(layer(a), layer(b)),
		cmp.Compare(a.String(), b.String()),
	)
}

// Equal says whether a and b are the same origin, their layer indices
// compared by value.
func Equal(a, b Origin) bool {
	la, lb := a.Layer, b.Layer
	a.Layer, b.Layer = nil, nil
	return a == b && (la == lb || la != nil && lb != nil && *la == *lb)
}

// Key names one location of one package: where a catalog found it.
type Key struct {
	PURL     string `json:"purl"`
	Location string `json:"location"`
}

// Attribution is the origin of each package location of an image.
type Attribution map[Key]Origin

// Of is the origins of a package found at locations, each once, in
// Compare's order. A location the attribution does not hold is unknown, so
// a package is never silently taken for the base's.
func (a Attribution) Of(purl string, locations []string) []Origin {
	if a == nil {
		return nil
	}
	var out []Origin
	for _, loc := range locations {
		o, ok := a[Key{PURL: purl, Location: loc}]
		if !ok {
			o = Origin{Kind: Unknown, Reason: "not attributed: " + loc}
		}
		if !slices.ContainsFunc(out, func(p Origin) bool { return Equal(p, o) }) {
			out = append(out, o)
		}
	}
	if len(locations) == 0 {
		out = append(out, Origin{Kind: Unknown, Reason: "the package has no location"})
	}
	slices.SortStableFunc(out, Compare)
	return out
}
