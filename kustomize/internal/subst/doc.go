// Package subst expands ${var} references in strings.
//
// The grammar is the subset of POSIX shell parameter expansion that Flux's
// post-build substitution understands:
//
//	${name}            the value of name; undefined is "" (or an error in strict mode)
//	${name:=default}   the value of name, or default when name is undefined or empty
//	${name:-default}   the same as := (no assignment happens: variables are read-only)
//	$${name}           the literal text ${name}
//
// A name matches [_a-zA-Z][_a-zA-Z0-9]*. A default is taken literally up to
// the first closing brace; it cannot itself contain references. Anything that
// is not a well-formed reference (a lone $, $name without braces, ${1x},
// an unterminated ${) is left exactly as written, so text that merely looks
// like shell is never damaged.
package subst
