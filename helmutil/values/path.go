package values

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits of a target path: Helm's own for nesting and list indexes.
const (
	maxPathBytes = 4 << 10
	maxPathSteps = 30
	maxListIndex = 65536
)

// step is one element of a parsed target path: a map key or a list index.
type step struct {
	key   string
	index int
	list  bool
}

// ValidatePath reports whether path is a valid TargetPath, as Compose
// would parse it; the error is a *PathError. A caller can check a
// specification before reading any reference.
func ValidatePath(path string) error {
	_, err := parsePath(path)
	return err
}

// parsePath parses a target path in the key syntax of `helm --set`: keys
// separated by '.', list indexes in brackets ("a.b[0].c", "m[0][1]"), and a
// backslash escaping the next character ("a\.b" is the key "a.b"). The
// first element is a key. The characters that end a key in --set ('=' and
// ',') and an unescaped ']' are refused rather than guessed at.
func parsePath(p string) ([]step, error) {
	if p == "" {
		return nil, &PathError{Path: p, Reason: "empty path"}
	}
	if len(p) > maxPathBytes {
		return nil, &PathError{Path: p, Offset: maxPathBytes, Reason: "longer than " + strconv.Itoa(maxPathBytes) + " bytes"}
	}
	var steps []step
	i := 0
	expectKey := true // at the start and after '.'
	for i < len(p) {
		if len(steps) >= maxPathSteps {
			return nil, &PathError{Path: p, Offset: i, Reason: "more than " + strconv.Itoa(maxPathSteps) + " elements"}
		}
		if expectKey {
			key, n, err := parseKey(p, i)
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{key: key})
			i += n
			expectKey = false
			continue
		}
		switch p[i] {
		case '.':
			i++
			if i == len(p) {
				return nil, &PathError{Path: p, Offset: i, Reason: "empty key after '.'"}
			}
			expectKey = true
		case '[':
			j := i + 1
			for j < len(p) && p[j] >= '0' && p[j] <= '9' {
				j++
			}
			if j == i+1 || j == len(p) || p[j] != ']' {
				return nil, &PathError{Path: p, Offset: i, Reason: "a list index is digits between '[' and ']'"}
			}
			n, err := strconv.Atoi(p[i+1 : j])
			if err != nil || n > maxListIndex {
				return nil, &PathError{Path: p, Offset: i + 1, Reason: "list index greater than " + strconv.Itoa(maxListIndex)}
			}
			steps = append(steps, step{index: n, list: true})
			i = j + 1
		default:
			return nil, &PathError{Path: p, Offset: i, Reason: "expected '.' or '[' after a key or an index"}
		}
	}
	return steps, nil
}

// parseKey reads one key starting at p[i]; it returns the unescaped key and
// the number of bytes read.
func parseKey(p string, i int) (string, int, error) {
	var b strings.Builder
	j := i
	for j < len(p) {
		c := p[j]
		switch c {
		case '\\':
			if j+1 == len(p) {
				return "", 0, &PathError{Path: p, Offset: j, Reason: "'\\' at the end escapes nothing"}
			}
			b.WriteByte(p[j+1])
			j += 2
			continue
		case '.', '[':
			if j == i {
				return "", 0, &PathError{Path: p, Offset: j, Reason: "empty key"}
			}
			return b.String(), j - i, nil
		case ']', '=', ',':
			return "", 0, &PathError{Path: p, Offset: j, Reason: "unescaped " + strconv.QuoteRune(rune(c)) + " in a key (escape it with '\\')"}
		}
		b.WriteByte(c)
		j++
	}
	return b.String(), j - i, nil
}

// setPath sets v at the parsed path in root, creating maps and lists on the
// way; a list grows with nulls up to the index. A null on the way is
// replaced; any other value of the wrong kind (a string where the path
// needs a map, a map where it needs a list) is an error naming the kind
// and how far the path got, never the value. Helm's --set fails on those
// too, except that it also fails on a null and replaces a scalar inside a
// list.
func setPath(root map[string]any, steps []step, v any) error {
	var set func(cur any, depth int) (any, error)
	set = func(cur any, depth int) (any, error) {
		if depth == len(steps) {
			return v, nil
		}
		s := steps[depth]
		if s.list {
			list, ok := cur.([]any)
			if !ok && cur != nil {
				return nil, crossing(steps[:depth], cur, "a list")
			}
			if s.index >= len(list) {
				grown := make([]any, s.index+1)
				copy(grown, list)
				list = grown
			}
			c, err := set(list[s.index], depth+1)
			if err != nil {
				return nil, err
			}
			list[s.index] = c
			return list, nil
		}
		m, ok := cur.(map[string]any)
		if !ok && cur != nil {
			return nil, crossing(steps[:depth], cur, "a map")
		}
		if m == nil {
			m = map[string]any{}
		}
		c, err := set(m[s.key], depth+1)
		if err != nil {
			return nil, err
		}
		m[s.key] = c
		return m, nil
	}
	_, err := set(root, 0)
	return err
}

// crossing is the error for a path that meets a value of the wrong kind
// after the steps in prefix.
func crossing(prefix []step, found any, want string) error {
	kind := "a scalar"
	switch found.(type) {
	case map[string]any:
		kind = "a map"
	case []any:
		kind = "a list"
	case string:
		kind = "a string"
	case bool:
		kind = "a boolean"
	case int64, float64:
		kind = "a number"
	}
	return fmt.Errorf("%w: the target path needs %s at %s, where the values hold %s", ErrInvalid, want, formatSteps(prefix), kind)
}

// formatSteps writes steps back in target-path syntax.
func formatSteps(steps []step) string {
	var b strings.Builder
	for i, s := range steps {
		if s.list {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		for j := 0; j < len(s.key); j++ {
			switch c := s.key[j]; c {
			case '.', '[', ']', '=', ',', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// typedValue types a target-path value as `helm --set` types its values,
// except that the value is never split: a value quoted with matching single
// or double quotes is the string inside them; otherwise true, false and
// null (any case) and integers without a leading zero take their type, and
// anything else is a string.
func typedValue(raw string) any {
	if n := len(raw); n >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[n-1] == raw[0] {
		return raw[1 : n-1]
	}
	switch {
	case strings.EqualFold(raw, "true"):
		return true
	case strings.EqualFold(raw, "false"):
		return false
	case strings.EqualFold(raw, "null"):
		return nil
	case raw == "0":
		return int64(0)
	}
	if raw != "" && raw[0] != '0' {
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return n
		}
	}
	return raw
}
