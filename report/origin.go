package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/vuln"
)

// placesShown caps the Dockerfile lines and layers one origin line names.
const placesShown = 6

// OriginCounts is how many findings came from where: inherited from the
// base image, added by the build (an instruction or a layer), or placed by
// nothing (no origin, or only unknown ones). A finding with an origin in the
// base and another added is added: its package changed after the base.
type OriginCounts struct {
	Inherited, Added, Unattributed int
	// Bases are the base images the inherited findings came from, as
	// "image@digest"; Places the Dockerfile lines and layers that added
	// findings, in Compare's order.
	Bases  []string
	Places []origin.Origin
}

// CountOrigins counts the findings by origin; ok is false when no finding
// has an origin (a directory scan attributes nothing), so that nothing is
// said of them.
func CountOrigins(findings []vuln.Finding) (c OriginCounts, ok bool) {
	for _, f := range findings {
		if len(f.Package.Origins) > 0 {
			ok = true
		}
		switch {
		case policy.Inherited(f):
			c.Inherited++
			for _, o := range f.Package.Origins {
				if b := baseName(o); !slices.Contains(c.Bases, b) {
					c.Bases = append(c.Bases, b)
				}
			}
		case policy.Unattributed(f):
			c.Unattributed++
		default:
			c.Added++
			for _, o := range f.Package.Origins {
				if o.Kind == origin.Base || o.Kind == origin.Unknown {
					continue
				}
				p := place(o)
				if !slices.ContainsFunc(c.Places, func(q origin.Origin) bool { return origin.Equal(q, p) }) {
					c.Places = append(c.Places, p)
				}
			}
		}
	}
	slices.Sort(c.Bases)
	slices.SortFunc(c.Places, origin.Compare)
	return c, ok
}

// place is what an added origin is counted by: its Dockerfile range, or
// its layer; two findings of one RUN are one place.
func place(o origin.Origin) origin.Origin {
	if o.Kind == origin.Instruction || o.StartLine > 0 {
		return origin.Origin{Kind: origin.Instruction, File: o.File, StartLine: o.StartLine, EndLine: max(o.EndLine, o.StartLine)}
	}
	return origin.Origin{Kind: origin.Layer, Layer: o.Layer}
}

// baseName is the base image as a verdict names it: the reference as the
// FROM line wrote it, with the digest it resolved to, shortened.
func baseName(o origin.Origin) string {
	name := cmp.Or(o.Image, "the base image")
	if o.Digest == "" || strings.Contains(name, "@") {
		return name
	}
	digest := o.Digest
	if alg, hex, ok := strings.Cut(digest, ":"); ok && len(hex) > 12 {
		digest = alg + ":" + hex[:12] + "…"
	}
	return name + "@" + digest
}

// OriginLine says where the findings came from in one line: "3 findings
// inherited from debian:12-slim@sha256:4b1c…, 2 added by Dockerfile:7 and
// :15, 1 could not be attributed"; "" when no finding has an origin.
func OriginLine(findings []vuln.Finding) string {
	c, ok := CountOrigins(findings)
	if !ok {
		return ""
	}
	var parts []string
	if c.Inherited > 0 {
		parts = append(parts, fmt.Sprintf("%d %s inherited from %s", c.Inherited, plural(c.Inherited, "finding", "findings"), joinAnd(c.Bases, placesShown)))
	}
	if c.Added > 0 {
		parts = append(parts, fmt.Sprintf("%d %s by %s", c.Added, plural(c.Added, "finding added", "findings added"), placesText(c.Places)))
	}
	if c.Unattributed > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be attributed", c.Unattributed))
	}
	return strings.Join(parts, ", ")
}

// placesText names the places: "Dockerfile:7 and :15", the file said
// once for its lines; "layers 3 and 5".
func placesText(places []origin.Origin) string {
	var names, layers []string
	file := ""
	for _, p := range places {
		if p.Kind == origin.Layer {
			if p.Layer == nil {
				layers = append(layers, "?")
			} else {
				layers = append(layers, strconv.Itoa(*p.Layer))
			}
			continue
		}
		f := cmp.Or(p.File, "Dockerfile")
		loc := cmp.Or(p.Location(), f)
		if f == file && strings.HasPrefix(loc, f+":") {
			loc = loc[len(f):]
		}
		file = f
		names = append(names, loc)
	}
	if len(layers) > 0 {
		names = append(names, plural(len(layers), "layer ", "layers ")+joinAnd(layers, placesShown))
	}
	return joinAnd(names, placesShown)
}

// joinAnd joins items as a sentence does, "a, b and c", the first limit of
// them, then how many more.
func joinAnd(items []string, limit int) string {
	if len(items) > limit {
		return fmt.Sprintf("%s and %d more", strings.Join(items[:limit], ", "), len(items)-limit)
	}
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// OriginCell is a finding's origins in a table cell, joined; not escaped.
func OriginCell(f vuln.Finding) string {
	texts := make([]string, len(f.Package.Origins))
	for i, o := range f.Package.Origins {
		texts[i] = o.String()
	}
	return strings.Join(texts, "; ")
}

// HasOrigins says whether some finding has an origin: only then do tables
// have an ORIGIN column.
func HasOrigins(findings []vuln.Finding) bool {
	return slices.ContainsFunc(findings, func(f vuln.Finding) bool { return len(f.Package.Origins) > 0 })
}
