package policy

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	yamlparser "github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Bounds of a policy file. A real one is a few kilobytes and a few levels
// deep; YAML aliases let a few hundred bytes stand for gigabytes once
// expanded, so the expansion is measured on the parsed tree, where each
// alias is one node, before anything expands it.
const (
	// MaxFileSize is the largest policy file read: a hundred times a large
	// real one.
	MaxFileSize = 512 << 10
	// maxExpandedSize bounds the document with its aliases expanded: the
	// bytes of its scalars plus one for each node. The YAML decoder and the
	// schema take about a second a MiB.
	maxExpandedSize = 1 << 20
	// maxDepth bounds the nesting of collections, aliases included.
	maxDepth = 64
	// maxBlockColumn bounds the column of a block collection's indicator
	// ("- ", "key:", "? "): each level of block nesting is a column more.
	maxBlockColumn = 256
)

// decodeYAML parses a policy file into its syntax tree (for line numbers)
// and its JSON form (for the schema), refusing a file whose aliases would
// expand it past maxExpandedSize.
func decodeYAML(name string, data []byte) (*ast.File, []byte, error) {
	if len(data) > MaxFileSize {
		return nil, nil, &FileError{File: name, Msg: fmt.Sprintf("%d bytes: larger than the %d KiB a policy file may be", len(data), MaxFileSize>>10)}
	}
	if err := checkNesting(name, data); err != nil {
		return nil, nil, err
	}
	file, err := yamlparser.ParseBytes(data, 0)
	if err != nil {
		return nil, nil, syntaxError(name, err)
	}
	if err := checkExpansion(name, file); err != nil {
		return nil, nil, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, nil, syntaxError(name, err)
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		js = []byte("{}") // an empty file is the defaults
	}
	return file, js, nil
}

// checkNesting bounds the nesting of the file on its tokens (the lexer is
// linear), before the parser, which takes time quadratic in the depth: a
// few hundred kilobytes of "[" would take it an hour. Flow collections
// count by their depth, block ones by the column of their indicators.
func checkNesting(name string, data []byte) error {
	depth := 0
	for _, tk := range lexer.Tokenize(string(data)) {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			if depth++; depth > maxDepth {
				return &FileError{File: name, Line: tk.Position.Line, Msg: fmt.Sprintf("nested deeper than %d levels: not a policy file", maxDepth)}
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		case token.SequenceEntryType, token.MappingValueType, token.MappingKeyType:
			if depth == 0 && tk.Position.Column > maxBlockColumn {
				return &FileError{File: name, Line: tk.Position.Line, Msg: fmt.Sprintf("indented past column %d: not a policy file", maxBlockColumn)}
			}
		}
	}
	return nil
}

// checkExpansion measures every document of file as the decoder would
// expand it: an alias stands for its anchor's whole value.
func checkExpansion(name string, file *ast.File) error {
	e := expansion{anchors: map[string]int64{}}
	var total int64
	for _, doc := range file.Docs {
		n, err := e.size(doc, 0)
		if err != nil {
			return &FileError{File: name, Line: e.line, Msg: err.Error()}
		}
		if total += n; total > maxExpandedSize {
			return &FileError{File: name, Line: e.line, Msg: tooLarge(total)}
		}
	}
	return nil
}

func tooLarge(n int64) string {
	return fmt.Sprintf("aliases expand the file to more than %d KiB (%d bytes or more): not a policy file", maxExpandedSize>>10, n)
}

// expansion is the expanded size of each anchor seen so far, in document
// order, as the decoder resolves them; line is where a bound was crossed.
type expansion struct {
	anchors map[string]int64
	line    int
}

func (e *expansion) size(n ast.Node, depth int) (int64, error) {
	if n == nil {
		return 0, nil
	}
	if depth > maxDepth {
		e.line = lineOfNode(n)
		return 0, fmt.Errorf("nested deeper than %d levels: not a policy file", maxDepth)
	}
	var total int64 = 1
	add := func(children ...ast.Node) error {
		for _, c := range children {
			s, err := e.size(c, depth+1)
			if err != nil {
				return err
			}
			if total += s; total > maxExpandedSize {
				e.line = lineOfNode(c)
				return fmt.Errorf("%s", tooLarge(total))
			}
		}
		return nil
	}
	var err error
	switch n := n.(type) {
	case *ast.DocumentNode:
		err = add(n.Body)
	case *ast.MappingNode:
		for _, v := range n.Values {
			if err = add(v); err != nil {
				break
			}
		}
	case *ast.MappingValueNode:
		err = add(n.Key, n.Value)
	case *ast.MappingKeyNode:
		err = add(n.Value)
	case *ast.SequenceNode:
		err = add(n.Values...)
	case *ast.TagNode:
		err = add(n.Value)
	case *ast.AnchorNode:
		name := n.Name.GetToken().Value
		// An alias to the anchor inside its own value decodes as null.
		e.anchors[name] = 1
		err = add(n.Value)
		e.anchors[name] = total
	case *ast.AliasNode:
		if s, ok := e.anchors[n.Value.String()]; ok {
			total += s
		}
	case *ast.CommentNode, *ast.CommentGroupNode, *ast.DirectiveNode:
		return 0, nil
	default:
		if tk := n.GetToken(); tk != nil {
			total += int64(len(tk.Value))
		}
	}
	if err == nil && total > maxExpandedSize {
		e.line = lineOfNode(n)
		err = fmt.Errorf("%s", tooLarge(total))
	}
	return total, err
}

func lineOfNode(n ast.Node) int {
	if tk := n.GetToken(); tk != nil {
		return tk.Position.Line
	}
	return 0
}

// keyLine is the line of the key loc ends with (of the entry, for an index),
// 0 when the file has no such key or the path passes an alias. lineOf
// finds a key's value, which for a nested mapping starts on the next line.
func keyLine(file *ast.File, loc []string) int {
	if len(file.Docs) == 0 {
		return 0
	}
	node := file.Docs[0].Body
	for i, p := range loc {
		node = unwrapNode(node)
		var next ast.Node
		switch n := node.(type) {
		case *ast.MappingNode, *ast.MappingValueNode:
			for _, mv := range mappingValues(n) {
				if tk := mv.Key.GetToken(); tk != nil && tk.Value == p {
					if i == len(loc)-1 {
						return tk.Position.Line
					}
					next = mv.Value
					break
				}
			}
		case *ast.SequenceNode:
			if idx, err := strconv.Atoi(p); err == nil && idx < len(n.Values) {
				if i == len(loc)-1 {
					return lineOfNode(n.Values[idx])
				}
				next = n.Values[idx]
			}
		}
		if next == nil {
			return 0
		}
		node = next
	}
	return 0
}

func unwrapNode(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

// mappingValues are the entries of a mapping: the parser gives a mapping
// of one entry as that entry.
func mappingValues(n ast.Node) []*ast.MappingValueNode {
	switch v := n.(type) {
	case *ast.MappingNode:
		return v.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}
	}
	return nil
}
