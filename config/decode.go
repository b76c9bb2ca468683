package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML parses one YAML document into its root node; nil means the
// document is empty. Syntax errors come back as *Error with the line the
// parser reported.
func parseYAML(data []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(name, err)
		}
		return nil, &Error{File: name, Line: extra.Line, Reason: "a second YAML document; the file must hold one"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil, nil
	}
	return root, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError rewrites "yaml: line 3: did not find expected key" as
// "NAME:3: did not find expected key".
func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Reason: "YAML syntax: " + m[2]}
	}
	return &Error{File: name, Reason: strings.Replace(msg, "yaml: ", "YAML syntax: ", 1)}
}

// decoder walks the YAML tree, collecting every error and the line of every
// key it sets.
type decoder struct {
	name  string
	errs  []error
	lines map[string]int // key path -> line of its value
}

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.name, Line: line, Key: key, Reason: fmt.Sprintf(format, args...)})
}

// handler decodes the value n of the key at path.
type handler func(path string, n *yaml.Node)

// mapping decodes a mapping node whose keys must all be in fields. A null
// value (a section with nothing under it) counts as an empty mapping.
func (d *decoder) mapping(path string, n *yaml.Node, fields map[string]handler) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of keys, got %s", describe(n))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a key must be a plain name, got %s", describe(k))
			continue
		}
		full := join(path, k.Value)
		if prev, dup := seen[k.Value]; dup {
			d.fail(k, full, "set twice (first at line %d)", prev)
			continue
		}
		seen[k.Value] = k.Line
		h, ok := fields[k.Value]
		if !ok {
			d.fail(k, full, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		d.lines[full] = k.Line
		h(full, v)
	}
}

// list decodes a sequence node, calling item for each element. A null value
// counts as an empty list.
func (d *decoder) list(path string, n *yaml.Node, item func(path string, i int, n *yaml.Node)) bool {
	n = resolve(n)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", describe(n))
		return false
	}
	for i, c := range n.Content {
		item(fmt.Sprintf("%s[%d]", path, i), i, c)
	}
	return true
}

// scalar returns the scalar node n, or reports the wrong type and returns nil.
func (d *decoder) scalar(path string, n *yaml.Node, want string) *yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.fail(n, path, "expected %s, got %s", want, describe(n))
		return nil
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows an alias (*name) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node holds, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!bool":
			return "boolean " + n.Value
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
	}
	return "an unexpected YAML node"
}

// suggest returns " (did you mean X?)" when a known key is a small edit away.
func suggest(key string, fields map[string]handler) string {
	best, bestDist := "", 3
	for k := range fields {
		if dist := editDistance(key, k); dist < bestDist || (dist == bestDist && k < best) {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
