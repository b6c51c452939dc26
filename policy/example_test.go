package policy

import (
	"os"
	"strings"
	"testing"
)

// TestExamplePolicyParses keeps the README's example file valid.
func TestExamplePolicyParses(t *testing.T) {
	data, err := os.ReadFile("../examples/policy/secure-build.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("examples/policy/secure-build.yaml", data); err != nil {
		t.Fatal(err)
	}
}

// TestReadmePolicyParses keeps the README's policy file valid.
func TestReadmePolicyParses(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```yaml\n")
	if !ok {
		t.Fatal("README.md has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	if _, err := Parse("README.md", []byte(block)); err != nil {
		t.Fatal(err)
	}
}
