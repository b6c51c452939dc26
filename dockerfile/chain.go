package dockerfile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Stage is one stage of the final stage's FROM chain, as the Dockerfile
// writes it: where each of its instructions that can change files is.
type Stage struct {
	// Name is the stage's name, or "stage-N" (its index) when it has none,
	// as BuildKit names them.
	Name string
	// FromLine is the stage's FROM line.
	FromLine int
	// Instructions are its RUN, COPY, ADD and WORKDIR instructions.
	Instructions []Instruction
}

// Instruction is one instruction's place in the Dockerfile.
type Instruction struct {
	// Kind is the instruction's keyword in capitals: RUN, COPY, ADD, WORKDIR.
	Kind string
	// Start and End are its first and last line, 1-based: a RUN continued
	// over lines or with a heredoc spans several.
	Start, End int
	// CopiedFrom is what a COPY --from names: a stage by its name (an index
	// is resolved to the stage's name), an image or a named context.
	CopiedFrom string
}

// Chain reads the final stage and the stages it is FROM, final first, down
// to the stage FROM an image, scratch or a context.
func Chain(name string, src []byte, in Input) ([]Stage, error) {
	d, err := parse(name, src, in)
	if err != nil {
		return nil, err
	}
	out := make([]Stage, 0, len(d.chain))
	for _, i := range d.chain {
		st := d.stages[i]
		s := Stage{Name: stageName(st, i), FromLine: line(st.Location)}
		for _, cmd := range st.Commands {
			ins, ok := instruction(cmd, d.stages)
			if ok {
				s.Instructions = append(s.Instructions, ins)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func stageName(st instructions.Stage, i int) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("stage-%d", i)
}

func instruction(cmd instructions.Command, stages []instructions.Stage) (Instruction, bool) {
	loc, ok := cmd.(interface{ Location() []parser.Range })
	if !ok {
		return Instruction{}, false
	}
	ins := Instruction{Kind: strings.ToUpper(cmd.Name())}
	switch c := cmd.(type) {
	case *instructions.RunCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
	case *instructions.CopyCommand:
		ins.CopiedFrom = c.From
		if n, err := strconv.Atoi(c.From); err == nil && n >= 0 && n < len(stages) {
			ins.CopiedFrom = stageName(stages[n], n)
		}
	default:
		return Instruction{}, false
	}
	ins.Start, ins.End = span(loc.Location())
	return ins, ins.Start > 0
}

// span is the first and last line of ranges, as BuildKit takes them.
func span(ranges []parser.Range) (start, end int) {
	for _, r := range ranges {
		if start == 0 || r.Start.Line < start {
			start = r.Start.Line
		}
		end = max(end, r.End.Line)
	}
	return start, end
}
