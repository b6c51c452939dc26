package origin

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/secure-build/secure-build/sbom"
)

// StateOrigin is the first state of a build from which a package location
// is present in its final version: 0 is the base, i the i-th state after
// it. State is -1 when it could not be decided, Reason says why.
type StateOrigin struct {
	PURL     string `json:"purl"`
	Location string `json:"location"`
	State    int    `json:"state"`
	Reason   string `json:"reason,omitempty"`
}

// Trace follows each package location of final back through the roots a
// build went through, from the last (the root final cataloged) to the
// first (the base; "" when there is none, as FROM scratch), and finds the
// first root from which the package is there in its final version: a
// package whose version changed on a later state belongs to that state.
// A file unchanged between two roots (same size, mode, modification and
// change time: an overlay mount shows a lower layer's file as it is) holds
// the same packages, so only files a state changed are read again, and
// only the files the catalog names.
func Trace(ctx context.Context, roots []string, final *sbom.SBOM) ([]StateOrigin, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("trace: no roots")
	}
	files := make([]*sbom.Files, len(roots))
	for i, r := range roots {
		if r == "" {
			continue
		}
		f, err := sbom.OpenFiles(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("trace: state %d: %w", i, err)
		}
		defer f.Close()
		files[i] = f
	}
	t := &tracer{files: files, stats: map[stateFile]identity{}, purls: map[stateFile]found{}}
	var out []StateOrigin
	for _, p := range final.Packages {
		for _, loc := range p.Locations {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("trace: %w", err)
			}
			state, reason := t.origin(p.PURL, loc)
			out = append(out, StateOrigin{PURL: p.PURL, Location: loc, State: state, Reason: reason})
		}
	}
	slices.SortFunc(out, func(a, b StateOrigin) int {
		return strings.Compare(a.PURL+"\x00"+a.Location, b.PURL+"\x00"+b.Location)
	})
	return out, nil
}

type stateFile struct {
	state    int
	location string
}

// identity is what says a file is unchanged between two roots; ok false
// when it is not there.
type identity struct {
	ok           bool
	mode         fs.FileMode
	size         int64
	mtime, ctime time.Time
}

type found struct {
	purls []string
	gaps  []sbom.Incompleteness
}

type tracer struct {
	files []*sbom.Files
	stats map[stateFile]identity
	purls map[stateFile]found
}

func (t *tracer) identity(state int, loc string) identity {
	k := stateFile{state, loc}
	if id, ok := t.stats[k]; ok {
		return id
	}
	var id identity
	if f := t.files[state]; f != nil {
		if fi, err := f.Stat(loc); err == nil {
			id = identity{ok: true, mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime(), ctime: changeTime(fi)}
		}
	}
	t.stats[k] = id
	return id
}

func (t *tracer) packages(state int, loc string) found {
	k := stateFile{state, loc}
	if f, ok := t.purls[k]; ok {
		return f
	}
	var f found
	f.purls, f.gaps = t.files[state].Packages(loc)
	t.purls[k] = f
	return f
}

func (t *tracer) origin(purl, loc string) (int, string) {
	last := len(t.files) - 1
	if !t.identity(last, loc).ok {
		// Found inside a file (an archive in an archive) or by a path the
		// final root does not stat: nothing to follow.
		return -1, "the catalog's location " + loc + " is not a file of the final stage"
	}
	for k := last - 1; k >= 0; k-- {
		prev, next := t.identity(k, loc), t.identity(k+1, loc)
		if prev == next {
			continue
		}
		if !prev.ok {
			return k + 1, ""
		}
		f := t.packages(k, loc)
		if slices.Contains(f.purls, purl) {
			continue
		}
		if len(f.gaps) > 0 {
			return -1, fmt.Sprintf("%s could not be read in state %d: %s", loc, k, f.gaps[0].Reason)
		}
		return k + 1, ""
	}
	return 0, ""
}
