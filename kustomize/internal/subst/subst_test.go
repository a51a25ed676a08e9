package subst

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func mapLookup(m map[string]string) Lookup {
	return func(n string) (string, bool) { v, ok := m[n]; return v, ok }
}

var testVars = map[string]string{
	"env": "prod", "empty": "", "_x1": "y", "n": "3", "img": "ghcr.io/org/app:v1.2.3",
	"path": "/a/b/c.tar.gz", "word": "hello World", "jp": "日本語です", "off": "2",
	"dots": "a.b.c.d",
}

func TestExpand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"plain", "plain", false},
		{"${env}", "prod", true},
		{"a-${env}-b", "a-prod-b", true},
		{"${env}${env}", "prodprod", true},
		{"${missing}", "", true},
		{"${missing:=dev}", "dev", true},
		{"${missing:-dev}", "dev", true},
		{"${missing=dev}", "dev", true},
		{"${missing-dev}", "dev", true},
		{"${empty-dev}", "dev", true}, // as Flux: an empty value takes the default too
		{"${env:=dev}", "prod", true},
		{"${empty:=dev}", "dev", true},
		{"${empty}", "", true},
		{"${missing:=}", "", true},
		{"${_x1}", "y", true},
		{"$${env}", "${env}", true},
		{"$${env:=x}", "${env:=x}", true},
		{"$${env:0:2}", "${env:0:2}", true},
		{"$$${env}", "$$prod", true}, // a "$$" not followed by a reference stays literal
		{"$$", "$$", false},
		{"$", "$", false},
		{"$env", "$env", false},
		{"${", "${", false},
		{"${env", "${env", false},
		{"${1x}", "${1x}", false},
		{"${a.b}", "${a.b}", false},
		{"${spring.datasource.url}", "${spring.datasource.url}", false},
		{"${#}", "${#}", false},
		{"${#arr[@]}", "${#arr[@]}", false},
		{"${missing:=a:b c}", "a:b c", true},
		{"${missing:=${env}}", "prod", true}, // defaults are expanded
		{"${missing:=${nope:-x}-y}", "x-y", true},
		{"${missing:=a\\}b}", "a}b", true},
		{"${missing:=C:\\path}", "C:\\path", true}, // only \ } / : $ are escaped
		{"price: $5 and ${n}", "price: $5 and 3", true},
		{"日本${env}語", "日本prod語", true},

		// ${#var}
		{"${#env}", "4", true},
		{"${#jp}", "5", true},
		{"${#missing}", "0", true},

		// substrings
		{"${env:1}", "rod", true},
		{"${env:1:2}", "ro", true},
		{"${env:0:10}", "prod", true},
		{"${env:10}", "", true},
		{"${env: -2}", "od", true},
		{"${env:(-3):2}", "ro", true},
		{"${env: -10}", "prod", true}, // clamped at the start, as Flux
		{"${env:1:-1}", "ro", true},
		{"${env:${off}}", "od", true},
		{"${env:${off}:${n}}", "od", true},
		{"${jp:1:2}", "本語", true},
		{"${env:0:0}", "", true},

		// replacements
		{"${dots/./-}", "a-b.c.d", true},
		{"${dots//./-}", "a-b-c-d", true},
		{"${dots//.}", "abcd", true},
		{"${dots/#a./x}", "xb.c.d", true},
		{"${dots/#b/x}", "a.b.c.d", true},
		{"${dots/%.d/!}", "a.b.c!", true},
		{"${dots/%.c/!}", "a.b.c.d", true},
		{"${img/:v/@}", "ghcr.io/org/app@1.2.3", true},
		{"${path//\\//_}", "_a_b_c.tar.gz", true},
		{"${env/r/${n}}", "p3od", true},
		{"${env//}", "prod", true},
		{"${env/}", "prod", true},

		// globs
		{"${path#*/}", "a/b/c.tar.gz", true},
		{"${path##*/}", "c.tar.gz", true},
		{"${path%.*}", "/a/b/c.tar", true},
		{"${path%%.*}", "/a/b/c", true},
		{"${path%.[gt]z}", "/a/b/c.tar", true},
		{"${path#x}", "/a/b/c.tar.gz", true},
		{"${img##*:v}", "1.2.3", true},
		{"${env#?}", "rod", true},
		{"${env%[!d]}", "prod", true},
		{"${env%[^x]}", "pro", true},

		// case
		{"${word^}", "Hello World", true},
		{"${word^^}", "HELLO WORLD", true},
		{"${word,}", "hello World", true},
		{"${word,,}", "hello world", true},
		{"${missing^^}", "", true},
	}
	env := &Env{Lookup: mapLookup(testVars)}
	for _, tt := range tests {
		got, changed, err := Expand(tt.in, env)
		if err != nil {
			t.Errorf("Expand(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want || changed != tt.changed {
			t.Errorf("Expand(%q) = %q, %v; want %q, %v", tt.in, got, changed, tt.want, tt.changed)
		}
		if changed && !MayContain(tt.in) {
			t.Errorf("MayContain(%q) = false but Expand changed it", tt.in)
		}
	}
}

// Forms that Flux substitutes (or refuses) are never left as written: a
// malformed one is an *Error naming the variable.
func TestExpandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, name, reason string }{
		{"x ${env:?unset}", "env", "not supported"},
		{"${env:+alt}", "env", "not supported"},
		{"${env+alt}", "env", "not supported"},
		{"${env?alt}", "env", "not supported"},
		{"${env:a}", "env", "offset is not an integer"},
		{"${env:1:b}", "env", "length is not an integer"},
		{"${env:3:-3}", "env", "ends before the offset"},
		{"${env:1:2", "env", "missing closing brace"},
		{"${env/a/b", "env", "missing closing brace"},
		{"${env:-x", "env", "missing closing brace"},
		{"${env^x}", "env", "missing closing brace"},
		{"${env#[a}", "env", "not a valid glob"},
		{"${env:${off:x}}", "off", "offset is not an integer"},
		{"${a:-${b:-${c:-${d:-${e:-${f:-${g:-${h:-${i:-${j:-${k:-${l:-${m:-${n:-${o:-${p:-${q:-x}}}}}}}}}}}}}}}}}", "q", "nest more than"},
	}
	env := &Env{Lookup: mapLookup(testVars)}
	for _, tt := range tests {
		_, _, err := Expand(tt.in, env)
		var xe *Error
		if !errors.As(err, &xe) {
			t.Errorf("Expand(%q): want *Error, got %v", tt.in, err)
			continue
		}
		if xe.Name != tt.name || !strings.Contains(xe.Reason, tt.reason) {
			t.Errorf("Expand(%q) = %+v, want variable %q and a reason with %q", tt.in, xe, tt.name, tt.reason)
		}
		for _, v := range testVars {
			if len(v) > 1 && strings.Contains(err.Error(), v) {
				t.Errorf("error quotes a value: %v", err)
			}
		}
	}
	// An escaped malformed form is text: no error.
	if got, _, err := Expand("$${env:?x}", env); err != nil || got != "$${env:?x}" {
		t.Errorf("escaped malformed form: %q, %v", got, err)
	}
}

func TestExpandStrict(t *testing.T) {
	t.Parallel()
	env := &Env{Lookup: mapLookup(map[string]string{"set": "s3cr3t"}), Strict: true}
	for _, in := range []string{"x ${set} ${nope} ${other}", "${nope:1}", "${nope/a/b}", "${#nope}", "${nope^^}", "${nope%x}", "${set:-${nope}}x${nope}"} {
		_, _, err := Expand(in, env)
		var ue *UndefinedError
		if !errors.As(err, &ue) || ue.Name != "nope" {
			t.Errorf("%q: got %v, want UndefinedError for nope", in, err)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("error leaks a value: %v", err)
		}
	}
	// Defaults tolerate undefined variables; words that are not used are
	// not evaluated; escapes are text.
	got, _, err := Expand("${nope:=d} ${nope-e} ${set:-${nope}} $${nope}", env)
	if err != nil || got != "d e s3cr3t ${nope}" {
		t.Fatalf("defaults and escapes must pass strict mode: %q, %v", got, err)
	}
}

func TestExpandBudget(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1000)
	lookup := mapLookup(map[string]string{"big": big, "a": strings.Repeat("a", 100)})
	for _, in := range []string{
		strings.Repeat("${big}", 20),
		"${a//a/${big}}",                                // 100 × 1000 bytes from one reference
		"${nope:-" + strings.Repeat("${big}", 20) + "}", // an intermediate word
	} {
		budget := int64(10_000)
		_, _, err := Expand(in, &Env{Lookup: lookup, Budget: &budget})
		if !errors.Is(err, ErrBudget) {
			t.Errorf("%.40q: want ErrBudget, got %v", in, err)
		}
	}
	budget := int64(10_000)
	if _, _, err := Expand(strings.Repeat("${big}", 9), &Env{Lookup: lookup, Budget: &budget}); err != nil || budget != 1000 {
		t.Fatalf("under the budget: %v, %d left", err, budget)
	}
}

func TestGlobWorkBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 1<<20)
	pat := strings.Repeat("*a", 100) + "b"
	_, _, err := Expand("${v##"+pat+"}", &Env{Lookup: mapLookup(map[string]string{"v": long})})
	var xe *Error
	if !errors.As(err, &xe) || !strings.Contains(xe.Reason, "too long") {
		t.Fatalf("want the glob refused, got %v", err)
	}
	// A pathological pattern within the bound is linear, not exponential.
	v := strings.Repeat("a", 2000)
	got, _, err := Expand("${v##"+strings.Repeat("*a", 30)+"b}", &Env{Lookup: mapLookup(map[string]string{"v": v})})
	if err != nil || got != v {
		t.Fatalf("got %d chars, %v", len(got), err)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "${a}", "$${a}", "${a:=b}", "${a:-}", "$$$", "${", "${a", "x${_}y", "${a:=}}", "\xff${a}",
		"${a:1:2}", "${a: -1}", "${a/x/y}", "${a//x}", "${a/#x/y}", "${a/%x/y}", "${a#*}", "${a%%[a-z]}", "${#a}", "${a^^}",
		"${a,}", "${a:-${b:-${c}}}", "${a/\\//\\}}", "${a:?x}", "${a:(-2):1}", "${a:${b}}"} {
		f.Add(s)
	}
	vars := mapLookup(map[string]string{"a": "Aé/x.y", "b": "", "_": "$", "c": "1"})
	f.Fuzz(func(t *testing.T, s string) {
		budget := int64(1 << 20)
		got, changed, err := Expand(s, &Env{Lookup: vars, Budget: &budget})
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("lax expansion failed with %T: %v", err, err)
			}
			if !strings.Contains(s, xe.Name) || xe.Offset < 0 || xe.Offset >= len(s) || s[xe.Offset] != '$' {
				t.Fatalf("error %+v does not point at a reference in %q", xe, s)
			}
			return
		}
		if changed && !MayContain(s) {
			t.Fatalf("changed %q but MayContain is false", s)
		}
		if !changed && got != s {
			t.Fatalf("unchanged result differs: %q -> %q", s, got)
		}
		if !strings.Contains(s, "${") && got != s {
			t.Fatalf("text without ${ changed: %q -> %q", s, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("valid UTF-8 %q became invalid %q", s, got)
		}
		// With every variable defined, strict mode agrees with lax mode.
		all := func(string) (string, bool) { return "v", true }
		if _, _, err := Expand(s, &Env{Lookup: all, Strict: true}); err != nil {
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("strict with all defined failed: %v", err)
			}
		}
		// Strict mode fails only by naming a variable the input references.
		if _, _, err := Expand(s, &Env{Strict: true}); err != nil {
			var ue *UndefinedError
			var xe *Error
			switch {
			case errors.As(err, &ue):
				if !strings.Contains(s, ue.Name) {
					t.Fatalf("strict error %v names a variable not in %q", err, s)
				}
			case !errors.As(err, &xe):
				t.Fatalf("bad strict error %v for %q", err, s)
			}
		}
	})
}
