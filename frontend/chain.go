package frontend

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// link is one op on the final stage's chain of root filesystems: the FROM
// image, then each RUN, COPY, ADD and WORKDIR of the stage and of the
// stages it is FROM, in the order the Dockerfile builds them.
type link struct {
	// out is the op's output that the chain goes on from.
	out *pb.Input
	op  *pb.Op
	// locs are the Dockerfile ranges the op was made from; an op shared by
	// several stages has one for each.
	locs []*pb.Location
}

// source is the op's source identifier when it is a source: the chain's
// bottom, "docker-image://REF@DIGEST", "local://NAME" and so on.
func (l link) source() string {
	return l.op.GetSource().GetIdentifier()
}

// chainOf walks a state's definition from its output back to its bottom,
// following the root filesystem: an exec's root mount, a file op's
// destination, a merge's lowest input. Other inputs (a COPY --from stage,
// a RUN --mount) are side branches. dockerfile2llb has no API for the
// state after each instruction; the marshalled definition is what BuildKit
// builds, so its op digests are the cache keys the build already has.
func chainOf(def *pb.Definition) ([]link, error) {
	if len(def.GetDef()) == 0 {
		return nil, nil
	}
	ops := make(map[digest.Digest]*pb.Op, len(def.Def))
	var term *pb.Op
	for _, dt := range def.Def {
		op := new(pb.Op)
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("read the final stage's definition: %w", err)
		}
		ops[digest.FromBytes(dt)] = op
		term = op
	}
	if len(term.Inputs) == 0 {
		return nil, fmt.Errorf("read the final stage's definition: no output")
	}
	var chain []link
	for in := term.Inputs[0]; in != nil; {
		op, ok := ops[digest.Digest(in.Digest)]
		if !ok {
			return nil, fmt.Errorf("read the final stage's definition: no op %s", in.Digest)
		}
		if len(chain) > len(ops) {
			return nil, fmt.Errorf("read the final stage's definition: a cycle at op %s", in.Digest)
		}
		chain = append(chain, link{out: in, op: op, locs: def.GetSource().GetLocations()[in.Digest].GetLocations()})
		next, err := rootInput(op, in.Index)
		if err != nil {
			return nil, fmt.Errorf("read the final stage's definition: op %s: %w", in.Digest, err)
		}
		in = next
	}
	slices.Reverse(chain)
	return chain, nil
}

// rootInput is the input an op's output index is made on, nil at the
// bottom (a source, or an op on scratch).
func rootInput(op *pb.Op, output int64) (*pb.Input, error) {
	input := func(i int64) (*pb.Input, error) {
		switch {
		case i < 0:
			return nil, nil
		case i >= int64(len(op.Inputs)):
			return nil, fmt.Errorf("input %d of %d", i, len(op.Inputs))
		}
		return op.Inputs[i], nil
	}
	switch x := op.Op.(type) {
	case *pb.Op_Source:
		return nil, nil
	case *pb.Op_Exec:
		for _, m := range x.Exec.Mounts {
			if m.Output == output {
				return input(m.Input)
			}
		}
		return nil, fmt.Errorf("no mount gives output %d", output)
	case *pb.Op_File:
		n := int64(len(op.Inputs))
		for _, a := range x.File.Actions {
			if a.Output != output {
				continue
			}
			// An action on an earlier action's result (COPY a b c): follow
			// them to the input the first one was made on.
			for steps := 0; a.Input >= n; steps++ {
				i := a.Input - n
				if i >= int64(len(x.File.Actions)) || steps > len(x.File.Actions) {
					return nil, fmt.Errorf("file action input %d out of range", a.Input)
				}
				a = x.File.Actions[i]
			}
			return input(a.Input)
		}
		return nil, fmt.Errorf("no file action gives output %d", output)
	case *pb.Op_Merge:
		if len(x.Merge.Inputs) == 0 {
			return nil, nil
		}
		return input(x.Merge.Inputs[0].Input)
	}
	return nil, fmt.Errorf("%T is not an op a Dockerfile makes on a stage's root", op.Op)
}

// stateAt is the state of a chain link's output, for a mount: the same ops
// as the build's, so the same cache keys, nothing built twice.
func stateAt(def *pb.Definition, out *pb.Input) (llb.State, error) {
	term, err := (&pb.Op{Inputs: []*pb.Input{out}}).MarshalVT()
	if err != nil {
		return llb.State{}, err
	}
	sub := def.CloneVT()
	sub.Def = append(slices.Clone(def.Def), term)
	op, err := llb.NewDefinitionOp(sub)
	if err != nil {
		return llb.State{}, err
	}
	return llb.NewState(op.Output()), nil
}

// maxChainMounts bounds the states the scan step mounts besides the final
// one. Past it, the earliest instructions are folded into the first state
// kept: their packages are attributed to the span, approximately.
const maxChainMounts = 32

// buildChain is the final stage's chain as the scan step sees it: states[0]
// is the base (nil when there is none: FROM scratch, or an image with no
// layers), each later state one op's output, the last the final stage.
type buildChain struct {
	// unknown says why the chain could not be read, when it could not.
	unknown string
	// off: the build asked for no attribution (ArgOrigins).
	off    bool
	def    *pb.Definition
	states []*link
	// folded are, for a state, the earlier links folded into it.
	folded map[int][]link
}

func newBuildChain(chain []link, def *pb.Definition) buildChain {
	b := buildChain{def: def, folded: map[int][]link{}}
	rest := chain
	if len(chain) > 0 && chain[0].op.GetSource() != nil {
		b.states = append(b.states, &chain[0])
		rest = chain[1:]
	} else {
		b.states = append(b.states, nil)
	}
	if over := len(rest) - maxChainMounts; over > 0 {
		b.folded[1] = rest[:over]
		rest = rest[over:]
	}
	for i := range rest {
		b.states = append(b.states, &rest[i])
	}
	return b
}

// finalChain reads the chain of the final stage's state.
func finalChain(ctx context.Context, st llb.State) (buildChain, error) {
	def, err := st.Marshal(ctx)
	if err != nil {
		return buildChain{}, fmt.Errorf("marshal the final stage: %w", err)
	}
	links, err := chainOf(def.ToPB())
	if err != nil {
		return buildChain{}, err
	}
	return newBuildChain(links, def.ToPB()), nil
}

// sourceRef splits a docker-image or oci-layout source identifier into the
// reference and the digest it is pinned to.
func sourceRef(identifier string) (scheme, ref, dgst string) {
	scheme, rest, _ := strings.Cut(identifier, "://")
	if i := strings.LastIndex(rest, "@"); i >= 0 && strings.HasPrefix(rest[i+1:], "sha256:") {
		return scheme, rest[:i], rest[i+1:]
	}
	return scheme, rest, ""
}
