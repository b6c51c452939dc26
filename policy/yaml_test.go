package policy

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// aliasBomb is a policy file of nested aliases: each level is a list of
// width aliases to the level above, so the last one expands to
// width^levels copies of the first.
func aliasBomb(levels, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "l0: &l0 [%s]\n", strings.TrimSuffix(strings.Repeat(`"lollo",`, width), ","))
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), width), ","))
	}
	return b.String()
}

// TestParseAliasBomb: a file whose aliases expand past the bound is refused
// before anything expands it, naming the line where the bound was crossed.
// Six levels of ten expand to 6 MB of JSON: the old parser expanded it and
// answered with the schema's errors.
func TestParseAliasBomb(t *testing.T) {
	_, err := Parse("bomb.yaml", []byte(aliasBomb(6, 10)))
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "aliases expand the file") || fe.Line != 6 {
		t.Fatalf("Parse = %v, want a file error about the aliases' expansion on line 6", err)
	}
}

// TestParseAliasBombBounded: the 503-byte file of the issue, which expanded
// to 21.5 GB, is refused within a few megabytes of allocation.
func TestParseAliasBombBounded(t *testing.T) {
	doc := aliasBomb(10, 10)
	if len(doc) > 600 {
		t.Fatalf("the bomb is %d bytes", len(doc))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse("bomb.yaml", []byte(doc))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "aliases expand the file") {
		t.Fatalf("Parse = %v, want the aliases' expansion refused", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("refusing a %d-byte file allocated %d MB", len(doc), alloc>>20)
	}
}

// TestParseAliasesWithinBound: aliases that stay small are still YAML the
// file may use, merge keys included.
func TestParseAliasesWithinBound(t *testing.T) {
	doc := `x-rule: &fail {action: fail}
dockerfile:
  multi-stage: *fail
  non-root-user:
    <<: *fail
`
	_, err := Parse("aliases.yaml", []byte(doc))
	// The x-rule key is not in the schema: the file got as far as the
	// schema check, past the expansion bound.
	if err == nil || !strings.Contains(err.Error(), "unknown key 'x-rule'") {
		t.Fatalf("Parse = %v, want only the schema's unknown key", err)
	}
	p, err := Parse("aliases.yaml", []byte("dockerfile:\n  multi-stage: &fail {action: fail}\n  non-root-user: *fail\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Docker.MultiStage != Fail || p.Docker.NonRootUser != Fail {
		t.Errorf("aliased rules: %+v", p.Docker)
	}
}

// TestParseBoundsDepthAndSize: a file nested past any policy's depth, or
// larger than a policy file may be, is refused with what is wrong.
func TestParseBoundsDepthAndSize(t *testing.T) {
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	if _, err := Parse("deep.yaml", []byte(deep)); err == nil || !strings.Contains(err.Error(), "nested deeper than") {
		t.Errorf("Parse(200 nested lists) = %v, want the depth refused", err)
	}
	// The parser takes time quadratic in the depth: these are refused
	// before it, in well under a second each.
	for _, deep := range []string{strings.Repeat("[", 256<<10), strings.Repeat("- ", 128<<10) + "x", strings.Repeat("{a: ", 64<<10)} {
		start := time.Now()
		_, err := Parse("deep.yaml", []byte(deep))
		if err == nil || !strings.Contains(err.Error(), "not a policy file") {
			t.Errorf("Parse(%.8q... %d bytes) = %.200v, want the nesting refused", deep, len(deep), err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Parse(%.8q... %d bytes) took %v", deep, len(deep), d)
		}
	}
	big := "# " + strings.Repeat("x", MaxFileSize) + "\n"
	if _, err := Parse("big.yaml", []byte(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Parse(%d bytes) = %v, want the size refused", len(big), err)
	}
}
