package subst

import (
	"strings"
)

// Lookup returns the value of a variable and whether it is defined.
type Lookup func(name string) (string, bool)

// UndefinedError reports a variable that strict mode found undefined. It
// carries the variable name only, never any value.
type UndefinedError struct {
	Name string
}

func (e *UndefinedError) Error() string {
	return "variable " + e.Name + " is not defined"
}

// Contains reports whether s holds anything Expand would change: a
// well-formed reference or an escaped one. It allocates nothing and lets
// callers skip untouched strings cheaply.
func Contains(s string) bool {
	for i := 0; i < len(s); i++ {
		i = indexDollar(s, i)
		if i < 0 {
			return false
		}
		if i+1 < len(s) && s[i+1] == '$' {
			if _, ok := parseRef(s, i+1); ok {
				return true
			}
			i++ // "$$" not followed by a reference: both kept literally
			continue
		}
		if _, ok := parseRef(s, i); ok {
			return true
		}
	}
	return false
}

// Expand replaces the references in s. When strict is true an undefined
// variable without a default is an *UndefinedError; otherwise it expands to
// the empty string. The returned bool reports whether anything changed.
func Expand(s string, lookup Lookup, strict bool) (string, bool, error) {
	var b strings.Builder
	last := 0 // s[last:i] not yet copied
	changed := false
	for i := 0; i < len(s); i++ {
		i = indexDollar(s, i)
		if i < 0 {
			break
		}
		if i+1 < len(s) && s[i+1] == '$' {
			if r, ok := parseRef(s, i+1); ok {
				// "$${...}": drop one dollar, keep the reference text.
				if !changed {
					b.Grow(len(s))
					changed = true
				}
				b.WriteString(s[last:i])
				b.WriteString(s[i+1 : r.end])
				last = r.end
				i = r.end - 1
				continue
			}
			i++
			continue
		}
		r, ok := parseRef(s, i)
		if !ok {
			continue
		}
		v, defined := lookup(r.name)
		switch {
		case defined && (v != "" || !r.hasDefault):
		case r.hasDefault:
			v = r.def
		case strict:
			return "", false, &UndefinedError{Name: r.name}
		default:
			v = ""
		}
		if !changed {
			b.Grow(len(s))
			changed = true
		}
		b.WriteString(s[last:i])
		b.WriteString(v)
		last = r.end
		i = r.end - 1
	}
	if !changed {
		return s, false, nil
	}
	b.WriteString(s[last:])
	return b.String(), true, nil
}

// Names returns the distinct variable names referenced in s (escaped
// references excluded), in order of first appearance.
func Names(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		i = indexDollar(s, i)
		if i < 0 {
			break
		}
		if i+1 < len(s) && s[i+1] == '$' {
			if r, ok := parseRef(s, i+1); ok {
				i = r.end - 1
			} else {
				i++
			}
			continue
		}
		if r, ok := parseRef(s, i); ok {
			seen := false
			for _, n := range out {
				seen = seen || n == r.name
			}
			if !seen {
				out = append(out, r.name)
			}
			i = r.end - 1
		}
	}
	return out
}

type ref struct {
	name       string
	def        string
	hasDefault bool
	end        int // index just past the closing brace
}

func indexDollar(s string, from int) int {
	j := strings.IndexByte(s[from:], '$')
	if j < 0 {
		return -1
	}
	return from + j
}

// parseRef parses a reference starting at s[i] == '$'.
func parseRef(s string, i int) (ref, bool) {
	if i+1 >= len(s) || s[i+1] != '{' {
		return ref{}, false
	}
	j := i + 2
	if j >= len(s) || !isNameStart(s[j]) {
		return ref{}, false
	}
	k := j + 1
	for k < len(s) && isNameChar(s[k]) {
		k++
	}
	if k >= len(s) {
		return ref{}, false
	}
	r := ref{name: s[j:k]}
	switch s[k] {
	case '}':
		r.end = k + 1
		return r, true
	case ':':
		if k+1 >= len(s) || (s[k+1] != '=' && s[k+1] != '-') {
			return ref{}, false
		}
		d := k + 2
		e := strings.IndexByte(s[d:], '}')
		if e < 0 {
			return ref{}, false
		}
		r.def = s[d : d+e]
		r.hasDefault = true
		r.end = d + e + 1
		return r, true
	}
	return ref{}, false
}

func isNameStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isNameChar(c byte) bool {
	return isNameStart(c) || ('0' <= c && c <= '9')
}
