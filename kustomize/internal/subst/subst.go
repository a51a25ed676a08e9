package subst

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth is how deeply references may nest inside words
// (${a:-${b:-${c}}} nests twice).
const MaxDepth = 16

// Lookup returns the value of a variable and whether it is defined.
type Lookup func(name string) (string, bool)

// Env is what an expansion reads.
type Env struct {
	// Lookup finds variables; nil means none is defined.
	Lookup Lookup
	// Strict makes a reference to an undefined variable an
	// *UndefinedError, unless the form supplies a default.
	Strict bool
	// Budget, when not nil, is the number of bytes expansions may still
	// produce; it is decremented as they do. Running out is ErrBudget.
	Budget *int64
}

// UndefinedError reports a variable that strict mode found undefined. It
// carries the variable name only, never any value.
type UndefinedError struct {
	Name string
}

func (e *UndefinedError) Error() string {
	return "variable " + e.Name + " is not defined"
}

// Error reports a reference that is malformed, uses an unsupported form, or
// cannot be evaluated (an offset that is not a number). It names the
// variable and says why; it never quotes the text or a value.
type Error struct {
	// Name is the variable the reference names.
	Name string
	// Offset is the byte offset of the reference's "${" in the string.
	Offset int
	// Reason says what is wrong.
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("reference to variable %s at offset %d: %s", e.Name, e.Offset, e.Reason)
}

// ErrBudget is returned when expansions would produce more text than
// Env.Budget allows.
var ErrBudget = errors.New("substitution produces more text than the limit allows")

// maxGlobWork bounds characters × pattern tokens examined by one ${a#glob}
// style removal.
const maxGlobWork = 1 << 26

// MayContain reports whether s might hold a reference (or an escaped one),
// that is whether Expand could change it. It allocates nothing; false is
// certain, true is not.
func MayContain(s string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			return false
		}
		k := i + j + 2
		if k < len(s) && (isNameStart(s[k]) || s[k] == '#') {
			return true
		}
		i = i + j + 1
	}
}

// Expand replaces the references in s. The returned bool reports whether
// anything changed (a reference or an escaped one was found).
func Expand(s string, env *Env) (string, bool, error) {
	if !MayContain(s) {
		return s, false, nil
	}
	if env == nil {
		env = &Env{}
	}
	e := &expander{s: s, env: env}
	var b strings.Builder
	_, changed, err := e.text(0, "", &b, true, false)
	if err != nil {
		return "", false, err
	}
	if !changed {
		return s, false, nil
	}
	return b.String(), true, nil
}

type expander struct {
	s     string
	env   *Env
	depth int
}

var errUnterminated = errors.New("missing closing brace")

// write appends str to out, charging the budget.
func (e *expander) write(out *strings.Builder, str string) error {
	if err := e.charge(len(str)); err != nil {
		return err
	}
	out.WriteString(str)
	return nil
}

func (e *expander) charge(n int) error {
	if b := e.env.Budget; b != nil {
		if int64(n) > *b {
			*b = -1
			return ErrBudget
		}
		*b -= int64(n)
	}
	return nil
}

// text expands s[i:] into out (when eval). In a word it stops before the
// first unescaped byte of term at its own level and fails at the end of
// the string; at the top level it runs to the end. It returns the index it
// stopped at and whether a reference was found.
func (e *expander) text(i int, term string, out *strings.Builder, eval, word bool) (int, bool, error) {
	s := e.s
	changed := false
	last := i // s[last:i] is literal text not yet written
	flush := func(to int) error {
		if eval && to > last {
			return e.write(out, s[last:to])
		}
		return nil
	}
	for i < len(s) {
		c := s[i]
		switch {
		case word && strings.IndexByte(term, c) >= 0:
			return i, changed, flush(i)
		case word && c == '\\' && i+1 < len(s) && strings.IndexByte(`\$}/:`, s[i+1]) >= 0:
			if err := flush(i); err != nil {
				return 0, false, err
			}
			last = i + 1 // the escaped byte is copied with what follows
			i += 2
		case c == '$' && i+2 < len(s) && s[i+1] == '$' && s[i+2] == '{':
			// "$${...}": one dollar dropped, the reference kept as text.
			if _, end, ok, err := e.ref(i+1, false); ok && err == nil {
				if err := flush(i); err != nil {
					return 0, false, err
				}
				last = i + 1
				i = end
				changed = true
				continue
			}
			i += 2
		case c == '$' && i+1 < len(s) && s[i+1] == '$':
			i += 2 // "$$" not starting an escaped reference: both kept
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			v, end, ok, err := e.ref(i, eval)
			if err != nil {
				return 0, false, err
			}
			if !ok {
				i++
				continue
			}
			if err := flush(i); err != nil {
				return 0, false, err
			}
			if eval {
				if err := e.write(out, v); err != nil {
					return 0, false, err
				}
			}
			last, i, changed = end, end, true
		default:
			i++
		}
	}
	if word {
		return 0, false, errUnterminated
	}
	return i, changed, flush(i)
}

// word reads a word (a default, offset, pattern or replacement) starting at
// i up to a byte in term, expanding it when eval.
func (e *expander) word(i int, term string, eval bool) (string, int, error) {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > MaxDepth {
		return "", 0, fmt.Errorf("references nest more than %d deep", MaxDepth)
	}
	var b strings.Builder
	end, _, err := e.text(i, term, &b, eval, true)
	return b.String(), end, err
}

// ref parses (and, when eval, evaluates) the reference whose "${" is at i.
// ok is false when the text there is not a reference at all and is to be
// kept as written.
func (e *expander) ref(i int, eval bool) (val string, end int, ok bool, err error) {
	s := e.s
	j := i + 2
	if j >= len(s) {
		return "", 0, false, nil
	}
	if s[j] == '#' {
		// ${#name}: anything else after "${#" (${#}, ${#arr[@]}) is kept.
		if j+1 >= len(s) || !isNameStart(s[j+1]) {
			return "", 0, false, nil
		}
		name, k := scanName(s, j+1)
		if k >= len(s) || s[k] != '}' {
			return "", 0, false, nil
		}
		v, err := e.value(name, eval, false)
		if err != nil {
			return "", 0, false, err
		}
		return strconv.Itoa(utf8.RuneCountInString(v)), k + 1, true, nil
	}
	if !isNameStart(s[j]) {
		return "", 0, false, nil
	}
	name, k := scanName(s, j)
	if k >= len(s) {
		return "", 0, false, nil
	}
	fail := func(err error) (string, int, bool, error) {
		var ue *UndefinedError
		if errors.As(err, &ue) || errors.Is(err, ErrBudget) {
			return "", 0, false, err
		}
		var xe *Error
		if errors.As(err, &xe) {
			return "", 0, false, err
		}
		return "", 0, false, &Error{Name: name, Offset: i, Reason: err.Error()}
	}
	switch c := s[k]; c {
	case '}':
		v, err := e.value(name, eval, false)
		if err != nil {
			return fail(err)
		}
		return v, k + 1, true, nil
	case ':':
		if k+1 >= len(s) {
			return fail(errUnterminated)
		}
		switch s[k+1] {
		case '-', '=':
			v, end, err := e.defaultForm(name, k+2, eval)
			if err != nil {
				return fail(err)
			}
			return v, end, true, nil
		case '?', '+':
			return fail(fmt.Errorf("the ${name:%c...} form is not supported", s[k+1]))
		}
		v, end, err := e.substring(name, k+1, eval)
		if err != nil {
			return fail(err)
		}
		return v, end, true, nil
	case '-', '=':
		v, end, err := e.defaultForm(name, k+1, eval)
		if err != nil {
			return fail(err)
		}
		return v, end, true, nil
	case '?', '+':
		return fail(fmt.Errorf("the ${name%c...} form is not supported", c))
	case '/':
		v, end, err := e.replace(name, k+1, eval)
		if err != nil {
			return fail(err)
		}
		return v, end, true, nil
	case '#', '%':
		v, end, err := e.trim(name, k, eval)
		if err != nil {
			return fail(err)
		}
		return v, end, true, nil
	case '^', ',':
		p := k + 1
		all := p < len(s) && s[p] == c
		if all {
			p++
		}
		if p >= len(s) || s[p] != '}' {
			return fail(errUnterminated)
		}
		v, err := e.value(name, eval, false)
		if err != nil {
			return fail(err)
		}
		return changeCase(v, c == '^', all), p + 1, true, nil
	}
	// ${a.b}, ${a[0]}, ${a b}: not a form Flux substitutes either.
	return "", 0, false, nil
}

// value looks name up. In strict mode an undefined variable is an error
// unless the form tolerates it (defaults).
func (e *expander) value(name string, eval, tolerant bool) (string, error) {
	if !eval {
		return "", nil
	}
	var v string
	ok := false
	if e.env.Lookup != nil {
		v, ok = e.env.Lookup(name)
	}
	if !ok && !tolerant && e.env.Strict {
		return "", &UndefinedError{Name: name}
	}
	return v, nil
}

func scanName(s string, j int) (string, int) {
	k := j + 1
	for k < len(s) && isNameChar(s[k]) {
		k++
	}
	return s[j:k], k
}

func isNameStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isNameChar(c byte) bool {
	return isNameStart(c) || ('0' <= c && c <= '9')
}
