package subst

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The evaluation of each form once its reference is recognised (see
// expander.ref): each reads its words, then the value, and returns the
// result and the index just past the closing brace.

// defaultForm evaluates ${name:-word} and its siblings; w is the index of
// the word. The word is evaluated only when it is used.
func (e *expander) defaultForm(name string, w int, eval bool) (string, int, error) {
	v, _ := e.value(name, eval, true)
	use := eval && v == ""
	d, end, err := e.word(w, "}", use)
	if err != nil {
		return "", 0, err
	}
	if use {
		v = d
	}
	return v, end + 1, nil
}

// substring evaluates ${name:offset} and ${name:offset:length}.
func (e *expander) substring(name string, w int, eval bool) (string, int, error) {
	offText, end, err := e.word(w, ":}", eval)
	if err != nil {
		return "", 0, err
	}
	lenText, hasLen := "", false
	if e.s[end] == ':' {
		if lenText, end, err = e.word(end+1, "}", eval); err != nil {
			return "", 0, err
		}
		hasLen = true
	}
	v, err := e.value(name, eval, false)
	if err != nil {
		return "", 0, err
	}
	if !eval {
		return "", end + 1, nil
	}
	off, ok := parseInt(offText)
	if !ok {
		return "", 0, errors.New("the offset is not an integer")
	}
	n := utf8.RuneCountInString(v)
	if off < 0 {
		off = max(n+off, 0)
	}
	off = min(off, n)
	stop := n
	if hasLen {
		l, ok := parseInt(lenText)
		if !ok {
			return "", 0, errors.New("the length is not an integer")
		}
		if l < 0 {
			stop = n + l
			if stop < off {
				return "", 0, errors.New("the negative length ends before the offset")
			}
		} else {
			stop = off + min(l, n-off)
		}
	}
	return runeSlice(v, off, stop), end + 1, nil
}

// replace evaluates ${name/old/new} and its siblings; w follows the first
// slash.
func (e *expander) replace(name string, w int, eval bool) (string, int, error) {
	s := e.s
	mode := byte(0)
	if w < len(s) && (s[w] == '/' || s[w] == '#' || s[w] == '%') {
		mode = s[w]
		w++
	}
	old, end, err := e.word(w, "/}", eval)
	if err != nil {
		return "", 0, err
	}
	repl := ""
	if s[end] == '/' {
		if repl, end, err = e.word(end+1, "}", eval); err != nil {
			return "", 0, err
		}
	}
	v, err := e.value(name, eval, false)
	if err != nil {
		return "", 0, err
	}
	if !eval {
		return "", end + 1, nil
	}
	if old == "" {
		return v, end + 1, nil
	}
	switch mode {
	case '/':
		n := strings.Count(v, old)
		// Check the size before building it: new may be long.
		if size := len(v) + n*(len(repl)-len(old)); e.env.Budget != nil && int64(size) > *e.env.Budget {
			return "", 0, ErrBudget
		}
		v = strings.ReplaceAll(v, old, repl)
	case '#':
		if rest, ok := strings.CutPrefix(v, old); ok {
			v = repl + rest
		}
	case '%':
		if rest, ok := strings.CutSuffix(v, old); ok {
			v = rest + repl
		}
	default:
		v = strings.Replace(v, old, repl, 1)
	}
	return v, end + 1, nil
}

// trim evaluates ${name#glob}, ${name##glob}, ${name%glob}, ${name%%glob};
// k is the index of the first operator byte.
func (e *expander) trim(name string, k int, eval bool) (string, int, error) {
	s := e.s
	op := s[k]
	p := k + 1
	longest := p < len(s) && s[p] == op
	if longest {
		p++
	}
	pat, end, err := e.word(p, "}", eval)
	if err != nil {
		return "", 0, err
	}
	v, err := e.value(name, eval, false)
	if err != nil {
		return "", 0, err
	}
	if !eval {
		return "", end + 1, nil
	}
	g, ok := compileGlob(pat)
	if !ok {
		return "", 0, errors.New("the pattern is not a valid glob")
	}
	r := []rune(v)
	if int64(len(r)+1)*int64(len(g)+1) > maxGlobWork {
		return "", 0, errors.New("the value is too long to match the pattern against")
	}
	if op == '%' {
		reverseRunes(r)
		g = g.reversed()
	}
	cut := g.prefix(r, longest)
	if cut < 0 {
		return v, end + 1, nil
	}
	if op == '%' {
		r = r[cut:]
		reverseRunes(r)
		return string(r), end + 1, nil
	}
	return string(r[cut:]), end + 1, nil
}

func changeCase(v string, upper, all bool) string {
	f := unicode.ToLower
	if upper {
		f = unicode.ToUpper
	}
	if all {
		return strings.Map(f, v)
	}
	r, n := utf8.DecodeRuneInString(v)
	if n == 0 {
		return v
	}
	return string(f(r)) + v[n:]
}

// parseInt reads an offset or length: an integer, optionally signed,
// surrounded by spaces or one pair of parentheses (${a: -1}, ${a:(-1)}).
func parseInt(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 1<<40 || n < -(1<<40) {
		return 0, false
	}
	return n, true
}

// runeSlice returns the characters [from, to) of v.
func runeSlice(v string, from, to int) string {
	if from >= to {
		return ""
	}
	start, stop, i := -1, len(v), 0
	for b := range v {
		if i == from {
			start = b
		}
		if i == to {
			stop = b
			break
		}
		i++
	}
	if start < 0 {
		return ""
	}
	return v[start:stop]
}

func reverseRunes(r []rune) {
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
}
