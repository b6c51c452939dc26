package plugin

import (
	"fmt"
	"strings"
	"testing"

	solvererrdefs "github.com/moby/buildkit/solver/errdefs"
	pb "github.com/moby/buildkit/solver/pb"
)

// TestPrintErrorSource: the lines of a Dockerfile an error points at are
// printed as buildx prints them, a terminal escape in them escaped and a
// tab kept.
func TestPrintErrorSource(t *testing.T) {
	data := "FROM x\nRUN\tprintf '\x1b[2J'\nFRM y\n"
	err := solvererrdefs.WithSource(fmt.Errorf("unknown instruction: FRM"), &solvererrdefs.Source{
		Info:   &pb.SourceInfo{Filename: "Dockerfile", Data: []byte(data)},
		Ranges: []*pb.Range{{Start: &pb.Position{Line: 3}, End: &pb.Position{Line: 3}}},
	})
	var b strings.Builder
	printErrorSource(&b, fmt.Errorf("failed to solve: %w", err))
	want := "Dockerfile:3\n--------------------\n" +
		"   1 |     FROM x\n" +
		"   2 |     RUN\tprintf '\\x1b[2J'\n" +
		"   3 | >>> FRM y\n" +
		"   4 |     \n" +
		"--------------------\n"
	if b.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printErrorSource(&b, fmt.Errorf("no source"))
	if b.String() != "" {
		t.Errorf("an error without a source printed %q", b.String())
	}
}
