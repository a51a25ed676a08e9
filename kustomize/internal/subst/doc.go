// Package subst expands ${var} references in strings, with the forms of
// Flux's post-build substitution (fluxcd/pkg/envsubst):
//
//	${name}                 the value; undefined is "" (an error in strict mode)
//	${name:-word} ${name:=word}
//	${name-word}  ${name=word}
//	                        the value, or word when name is undefined or empty
//	                        (as in Flux, the forms without ':' also treat an
//	                        empty value as missing; nothing is ever assigned)
//	${#name}                the length of the value, in characters
//	${name:offset}          the value from offset (characters; negative counts
//	${name:offset:length}   from the end, written ${name: -2} or ${name:(-2)});
//	                        a negative length stops that many characters
//	                        before the end, as in bash
//	${name/old/new}         old replaced by new: the first occurrence,
//	${name//old/new}        every occurrence, or only at the start (/#) or
//	${name/#old/new}        the end (/%); old is literal text, as in Flux;
//	${name/%old/new}        "/new" may be left out to delete
//	${name#glob} ${name##glob}
//	                        the shortest or longest prefix matching glob removed
//	${name%glob} ${name%%glob}
//	                        the same for suffixes (glob: * ? [a-z] \x)
//	${name^} ${name^^}      the first or every character upper-cased,
//	${name,} ${name,,}      or lower-cased
//	$${...}                 the literal text ${...}
//
// A name matches [_a-zA-Z][_a-zA-Z0-9]*. Words (defaults, offsets, patterns,
// replacements) may hold references themselves, evaluated only when used;
// a backslash makes the next } / : $ or \ literal.
//
// Text that does not start a reference is left exactly as written: a lone
// $, $name without braces, ${1x}, ${a.b}, an unterminated ${name. Once a
// name is followed by one of the operator characters above, the reference
// must be well formed: a malformed or unsupported form (${a:?x}, ${a:+x},
// an offset that is not a number, a missing brace) is a *SyntaxError
// naming the variable, never silently kept or dropped.
//
// Errors never contain a value. Expansion is bounded: every byte a reference
// produces, including intermediate words, is charged to Env.Budget, nesting
// is at most MaxDepth deep, and glob matching is bounded in work.
package subst
