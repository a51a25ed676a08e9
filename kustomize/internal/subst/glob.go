package subst

// A glob is a shell pattern compiled to tokens: * (any sequence), ? (any
// character), [...] (a class, negated with ! or ^) and literal characters
// (\x makes x literal). It is matched by simulating all positions at once,
// so the work is characters × tokens whatever the pattern.
type glob []token

type token struct {
	kind   byte // '*', '?', '[' or 'c' (literal)
	r      rune
	ranges []rune // for '[': lo, hi pairs
	negate bool
}

func compileGlob(p string) (glob, bool) {
	var g glob
	r := []rune(p)
	for i := 0; i < len(r); i++ {
		switch c := r[i]; c {
		case '*':
			if len(g) == 0 || g[len(g)-1].kind != '*' {
				g = append(g, token{kind: '*'})
			}
		case '?':
			g = append(g, token{kind: '?'})
		case '\\':
			if i+1 >= len(r) {
				return nil, false
			}
			i++
			g = append(g, token{kind: 'c', r: r[i]})
		case '[':
			t := token{kind: '['}
			j := i + 1
			if j < len(r) && (r[j] == '!' || r[j] == '^') {
				t.negate = true
				j++
			}
			first := true
			for ; j < len(r) && (first || r[j] != ']'); j++ {
				first = false
				lo := r[j]
				if lo == '\\' {
					if j+1 >= len(r) {
						return nil, false
					}
					j++
					lo = r[j]
				}
				hi := lo
				if j+2 < len(r) && r[j+1] == '-' && r[j+2] != ']' {
					hi = r[j+2]
					if hi == '\\' {
						if j+3 >= len(r) {
							return nil, false
						}
						hi = r[j+3]
						j++
					}
					j += 2
				}
				t.ranges = append(t.ranges, lo, hi)
			}
			if j >= len(r) {
				return nil, false // unterminated class
			}
			i = j
			g = append(g, t)
		default:
			g = append(g, token{kind: 'c', r: c})
		}
	}
	return g, true
}

func (t token) matches(c rune) bool {
	switch t.kind {
	case '?':
		return true
	case 'c':
		return t.r == c
	case '[':
		in := false
		for i := 0; i+1 < len(t.ranges); i += 2 {
			if t.ranges[i] <= c && c <= t.ranges[i+1] {
				in = true
				break
			}
		}
		return in != t.negate
	}
	return false
}

// reversed returns the glob that matches the reverse of what g matches.
func (g glob) reversed() glob {
	out := make(glob, len(g))
	for i, t := range g {
		out[len(g)-1-i] = t
	}
	return out
}

// prefix returns the length of the shortest (or longest) prefix of s that
// g matches in full, or -1.
func (g glob) prefix(s []rune, longest bool) int {
	m := len(g)
	cur := make([]bool, m+1)
	next := make([]bool, m+1)
	cur[0] = true
	closeStars(g, cur)
	best := -1
	for k := 0; ; k++ {
		if cur[m] {
			best = k
			if !longest {
				return k
			}
		}
		if k == len(s) {
			return best
		}
		any := false
		clear(next)
		for i := 0; i < m; i++ {
			if !cur[i] {
				continue
			}
			if g[i].kind == '*' {
				next[i] = true
				any = true
			} else if g[i].matches(s[k]) {
				next[i+1] = true
				any = true
			}
		}
		if !any {
			return best
		}
		closeStars(g, next)
		cur, next = next, cur
	}
}

// closeStars lets every active * also match the empty sequence.
func closeStars(g glob, st []bool) {
	for i := 0; i < len(g); i++ {
		if st[i] && g[i].kind == '*' {
			st[i+1] = true
		}
	}
}
