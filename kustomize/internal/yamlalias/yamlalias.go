// Package yamlalias bounds what YAML aliases expand to, before kustomize
// sees a file.
//
// kustomize's YAML reader (kyaml) replaces every alias with a copy of its
// anchor right after parsing ("de-anchoring"), so a few hundred bytes of
// nested anchors (a "billion laughs") become gigabytes, and an alias inside
// its own anchor recurses until the process dies of a stack overflow,
// which no recover() can catch. yaml.v3's own aliasing limit applies only
// when decoding into Go values, not to the node trees kyaml builds.
//
// Check parses the text the way kyaml does (the whole stream, and each
// piece between "---" lines separately, as kyaml splits documents itself)
// and, for every document, compares the number of nodes it would have once
// de-anchored with the number it has as written. It never expands
// anything: anchors are counted once and remembered, so the work is linear
// in the size of the text. String scalars that are YAML themselves (inline
// patches, plugin configurations) are checked the same way, a few levels
// deep.
package yamlalias

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// DefaultFloor is the number of nodes aliases may add to any document,
// however small it is.
const DefaultFloor = 10_000

// maxStringDepth is how many levels of YAML-inside-a-string are checked.
const maxStringDepth = 3

// Error reports a document whose aliases expand too far, or an alias that
// refers to a node containing it.
type Error struct {
	// Line is the line (1-based) of the document, or of the alias that
	// recurses, in the text checked.
	Line int
	// Recursive reports an alias inside its own anchor.
	Recursive bool
	// Limit is the number of nodes aliases could have added to the
	// document.
	Limit int64
}

func (e *Error) Error() string {
	if e.Recursive {
		return fmt.Sprintf("the YAML alias at line %d refers to a node that contains it", e.Line)
	}
	return fmt.Sprintf("the YAML aliases of the document at line %d expand to more than %d additional nodes", e.Line, e.Limit)
}

// Check returns an *Error if a YAML document in data expands through
// aliases to more than max(floor, its own node count) additional nodes.
// Text that is not YAML is not an error here: the parser that reads it
// next reports it. A negative floor disables the check.
func Check(data []byte, floor int64) (err error) {
	if floor < 0 || !mayAlias(data) {
		return nil
	}
	defer func() {
		if recover() != nil {
			// The YAML library kustomize uses fails on this text.
			err = errors.New("the YAML parser fails on this text")
		}
	}()
	return check(string(data), floor, 0)
}

// mayAlias reports whether data could hold both an anchor and an alias.
func mayAlias(data []byte) bool {
	return bytes.IndexByte(data, '&') >= 0 && bytes.IndexByte(data, '*') >= 0
}

func mayAliasString(s string) bool {
	return strings.IndexByte(s, '&') >= 0 && strings.IndexByte(s, '*') >= 0
}

// kyamlSeparator is where kyaml splits a stream into documents before it
// parses each one on its own.
var kyamlSeparator = regexp.MustCompile(`\n---.*\n`)

func check(s string, floor int64, depth int) error {
	if err := checkStream(s, 0, floor, depth); err != nil {
		return err
	}
	norm := strings.ReplaceAll(s, "\r\n", "\n")
	locs := kyamlSeparator.FindAllStringIndex(norm, -1)
	if len(locs) == 0 {
		return nil
	}
	prev := 0
	for i := 0; i <= len(locs); i++ {
		end := len(norm)
		if i < len(locs) {
			end = locs[i][0]
		}
		piece := norm[prev:end]
		if mayAliasString(piece) {
			line := strings.Count(norm[:prev], "\n")
			if err := checkStream(piece, line, floor, depth); err != nil {
				return err
			}
		}
		if i < len(locs) {
			prev = locs[i][1]
		}
	}
	return nil
}

// checkStream checks every document yaml.v3 can decode from s, stopping at
// the first syntax error. lineOffset is added to reported lines.
func checkStream(s string, lineOffset int, floor int64, depth int) error {
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err != nil {
			return nil // io.EOF, or text the next parser reports
		}
		if err := checkDoc(&doc, floor, depth); err != nil {
			var ae *Error
			if errors.As(err, &ae) {
				ae.Line += lineOffset
			}
			return err
		}
	}
}

func checkDoc(doc *yaml.Node, floor int64, depth int) error {
	parsed := int64(0)
	var scalars []*yaml.Node
	walk(doc, func(n *yaml.Node) {
		parsed++
		if n.Kind == yaml.ScalarNode && depth < maxStringDepth && mayAliasString(n.Value) {
			scalars = append(scalars, n)
		}
	})
	allowed := max(floor, parsed)
	c := &counter{memo: map[*yaml.Node]int64{}, active: map[*yaml.Node]bool{}, cap: parsed + allowed + 1}
	expanded := c.size(doc)
	if c.recursive != nil {
		return &Error{Line: c.recursive.Line, Recursive: true}
	}
	if expanded-parsed > allowed {
		line := doc.Line
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return &Error{Line: max(line, 1), Limit: allowed}
	}
	for _, n := range scalars {
		if err := check(n.Value, floor, depth+1); err != nil {
			var ae *Error
			if errors.As(err, &ae) {
				ae.Line = n.Line // the string holding the document
			}
			return err
		}
	}
	return nil
}

// walk visits every node as written, aliases as themselves.
func walk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	for _, c := range n.Content {
		walk(c, f)
	}
}

// counter computes the de-anchored size of a node, saturating at cap.
// Anchored nodes (the only ones an alias can name) are remembered, so each
// is counted once.
type counter struct {
	memo      map[*yaml.Node]int64
	active    map[*yaml.Node]bool
	cap       int64
	recursive *yaml.Node
}

func (c *counter) size(n *yaml.Node) int64 {
	if n == nil || c.recursive != nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil && c.active[n.Alias] {
			c.recursive = n
			return c.cap
		}
		return c.size(n.Alias)
	}
	anchored := n.Anchor != ""
	if anchored {
		if v, ok := c.memo[n]; ok {
			return v
		}
		c.active[n] = true
	}
	total := int64(1)
	for _, ch := range n.Content {
		total += c.size(ch)
		if total >= c.cap {
			total = c.cap
			break
		}
	}
	if anchored {
		delete(c.active, n)
		c.memo[n] = total
	}
	return total
}
