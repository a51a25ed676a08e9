package kustomize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// edit replaces data[start:end], a scalar's text, with new in the
// scalar's quoting style.
type edit struct {
	start, end int
	style      yaml.Style
	old, new   string
	object     ObjectRef
}

// markerFinder walks the documents of one file.
type markerFinder struct {
	path       string
	data       []byte
	lineStarts []int
	edits      []edit
	markers    []Marker
	warnings   []string
	// seen are the lines whose $imagepolicy text was read as a comment,
	// applied or warned about.
	seen map[int]bool
}

// findMarkers returns, for each marker of the file that can be applied,
// its edit (same index), and warnings for those that cannot.
func findMarkers(p string, data []byte) ([]edit, []Marker, []string, error) {
	f := &markerFinder{path: p, data: data, seen: map[int]bool{}, lineStarts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			f.lineStarts = append(f.lineStarts, i+1)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, nil, fmt.Errorf("not YAML: %v", err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		f.walk(doc.Content[0], objectOf(doc.Content[0]), nil)
	}
	// Marker-like text the walk did not read as a value's line comment:
	// in a string, a block scalar, or a comment on a line of its own.
	for i, start := range f.lineStarts {
		end := len(data)
		if i+1 < len(f.lineStarts) {
			end = f.lineStarts[i+1]
		}
		if !f.seen[i+1] && bytes.Contains(data[start:end], []byte(ImagePolicyMarker)) {
			f.warn(i+1, "text that looks like an image policy marker is not the line comment of a value (it is in a string, a block scalar or a comment of its own): ignored")
		}
	}
	return f.edits, f.markers, f.warnings, nil
}

func (f *markerFinder) warn(line int, format string, args ...any) {
	f.warnings = append(f.warnings, fmt.Sprintf("%s:%d: %s", f.path, line, fmt.Sprintf(format, args...)))
}

// walk visits n; key, when set, is the mapping key whose value n is.
func (f *markerFinder) walk(n *yaml.Node, obj ObjectRef, key *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		f.check(n, obj, key)
		for i := 0; i+1 < len(n.Content); i += 2 {
			f.walk(n.Content[i+1], obj, n.Content[i])
		}
	case yaml.SequenceNode:
		f.check(n, obj, key)
		for _, c := range n.Content {
			f.walk(c, obj, nil)
		}
	case yaml.ScalarNode:
		f.check(n, obj, key)
	}
}

// check looks for a marker in the line comment of n, or of its key on the
// same line, and records the edit when n is a scalar on that line.
func (f *markerFinder) check(n *yaml.Node, obj ObjectRef, key *yaml.Node) {
	comment, line := n.LineComment, n.Line
	if comment == "" && key != nil && key.LineComment != "" {
		comment, line = key.LineComment, key.Line
	}
	if comment == "" || !strings.Contains(comment, ImagePolicyMarker) {
		return
	}
	policy, field, ok, err := parseMarker(comment)
	if !ok {
		return
	}
	f.seen[line] = true
	if err != nil {
		f.warn(line, "%v: ignored", err)
		return
	}
	if n.Kind != yaml.ScalarNode {
		f.warn(line, "the marked value is not a scalar: ignored")
		return
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		f.warn(line, "the marked value is a block scalar: ignored")
		return
	}
	if n.Value == "" || n.Tag == "!!null" {
		f.warn(line, "the marked value is empty: ignored")
		return
	}
	if n.Line != line {
		f.warn(line, "the marked value does not start on the marker's line: ignored")
		return
	}
	start, end, ok := f.span(n)
	if !ok {
		f.warn(line, "the marked value is not a single-line scalar written as it reads (escapes, an anchor, a tag or a line break): ignored")
		return
	}
	f.edits = append(f.edits, edit{start: start, end: end, style: n.Style, old: n.Value, object: obj})
	f.markers = append(f.markers, Marker{Path: f.path, Line: line, Policy: policy, Field: field})
}

// span returns the byte range of scalar n's text in the file, quotes
// included, when that text is exactly its value (quoted or not) on one
// line.
func (f *markerFinder) span(n *yaml.Node) (int, int, bool) {
	if n.Line < 1 || n.Line > len(f.lineStarts) || n.Column < 1 {
		return 0, 0, false
	}
	lineStart := f.lineStarts[n.Line-1]
	lineEnd := len(f.data)
	if n.Line < len(f.lineStarts) {
		lineEnd = f.lineStarts[n.Line] - 1
	}
	line := f.data[lineStart:lineEnd]
	// The parser counts columns in characters.
	off := 0
	for col := 1; col < n.Column; col++ {
		if off >= len(line) {
			return 0, 0, false
		}
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	text := line[off:]
	var quote byte
	switch n.Style {
	case yaml.DoubleQuotedStyle:
		quote = '"'
	case yaml.SingleQuotedStyle:
		quote = '\''
	case 0:
	default:
		return 0, 0, false
	}
	want := n.Value
	if quote != 0 {
		want = string(quote) + n.Value + string(quote)
	}
	if !bytes.HasPrefix(text, []byte(want)) {
		return 0, 0, false
	}
	if quote == 0 {
		// A plain value ends at the line end, or at spaces before a comment.
		rest := text[len(want):]
		if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\r' {
			return 0, 0, false
		}
	}
	start := lineStart + off
	return start, start + len(want), true
}

// objectOf names the object a document holds.
func objectOf(n *yaml.Node) ObjectRef {
	var o ObjectRef
	if n.Kind != yaml.MappingNode {
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "apiVersion":
			o.APIVersion = v.Value
		case "kind":
			o.Kind = v.Value
		case "metadata":
			if v.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				switch v.Content[j].Value {
				case "name":
					o.Name = v.Content[j+1].Value
				case "namespace":
					o.Namespace = v.Content[j+1].Value
				}
			}
		}
	}
	return o
}

// applyEdits returns data with the edits made, each value written in its
// scalar's quoting style; a plain value YAML would read as something other
// than a string (1.10, true, null) is double-quoted instead.
func applyEdits(data []byte, edits []edit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var out bytes.Buffer
	out.Grow(len(data) + 64*len(edits))
	last := 0
	for _, e := range edits {
		out.Write(data[last:e.start])
		switch {
		case e.style == yaml.DoubleQuotedStyle, e.style == 0 && !readsAsString(e.new):
			out.WriteString(`"` + e.new + `"`)
		case e.style == yaml.SingleQuotedStyle:
			out.WriteString(`'` + e.new + `'`)
		default:
			out.WriteString(e.new)
		}
		last = e.end
	}
	out.Write(data[last:])
	return out.Bytes()
}

// readsAsString reports whether YAML reads s, written plain, as the string
// s.
func readsAsString(s string) bool {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("v: "+s), &n); err != nil || len(n.Content) == 0 || len(n.Content[0].Content) < 2 {
		return false
	}
	v := n.Content[0].Content[1]
	return v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == s
}
