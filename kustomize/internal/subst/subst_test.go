package subst

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mapLookup(m map[string]string) Lookup {
	return func(n string) (string, bool) { v, ok := m[n]; return v, ok }
}

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := mapLookup(map[string]string{"env": "prod", "empty": "", "_x1": "y", "n": "3"})
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
		{"${env:=dev}", "prod", true},
		{"${empty:=dev}", "dev", true},
		{"${empty}", "", true},
		{"${missing:=}", "", true},
		{"${_x1}", "y", true},
		{"$${env}", "${env}", true},
		{"$${env:=x}", "${env:=x}", true},
		{"$$${env}", "$$prod", true}, // a "$$" not followed by a reference stays literal
		{"$$", "$$", false},
		{"$", "$", false},
		{"$env", "$env", false},
		{"${", "${", false},
		{"${env", "${env", false},
		{"${1x}", "${1x}", false},
		{"${a-b}", "${a-b}", false},
		{"${env:?x}", "${env:?x}", false},
		{"${missing:=a:b c}", "a:b c", true},
		{"${missing:=${env}}", "${env}", true}, // defaults are literal, up to the first }
		{"price: $5 and ${n}", "price: $5 and 3", true},
		{"日本${env}語", "日本prod語", true},
	}
	for _, tt := range tests {
		got, changed, err := Expand(tt.in, vars, false)
		if err != nil {
			t.Errorf("Expand(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want || changed != tt.changed {
			t.Errorf("Expand(%q) = %q, %v; want %q, %v", tt.in, got, changed, tt.want, tt.changed)
		}
		if Contains(tt.in) != tt.changed {
			t.Errorf("Contains(%q) = %v, want %v", tt.in, !tt.changed, tt.changed)
		}
	}
}

func TestExpandStrict(t *testing.T) {
	t.Parallel()
	vars := mapLookup(map[string]string{"set": "s3cr3t"})
	_, _, err := Expand("x ${set} ${nope} ${other}", vars, true)
	var ue *UndefinedError
	if !errors.As(err, &ue) || ue.Name != "nope" {
		t.Fatalf("got %v, want UndefinedError for nope", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error leaks a value: %v", err)
	}
	got, _, err := Expand("${nope:=d} $${nope}", vars, true)
	if err != nil || got != "d ${nope}" {
		t.Fatalf("defaults and escapes must pass strict mode: %q, %v", got, err)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	got := Names("${a} $${b} ${c:=x} ${a} $d ${1}")
	if diff := cmp.Diff([]string{"a", "c"}, got); diff != "" {
		t.Fatal(diff)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "${a}", "$${a}", "${a:=b}", "${a:-}", "$$$", "${", "${a", "x${_}y", "${a:=}}", "\xff${a}"} {
		f.Add(s)
	}
	vars := mapLookup(map[string]string{"a": "A", "b": "", "_": "$"})
	f.Fuzz(func(t *testing.T, s string) {
		got, changed, err := Expand(s, vars, false)
		if err != nil {
			t.Fatalf("non-strict expansion failed: %v", err)
		}
		if changed != Contains(s) {
			t.Fatalf("changed=%v but Contains=%v for %q", changed, !changed, s)
		}
		if !changed && got != s {
			t.Fatalf("unchanged result differs: %q -> %q", s, got)
		}
		// Without references nothing but literal text can appear.
		if !strings.Contains(s, "$") && got != s {
			t.Fatalf("text without $ changed: %q -> %q", s, got)
		}
		// With every variable defined, strict mode agrees with lax mode.
		if _, _, err := Expand(s, func(string) (string, bool) { return "v", true }, true); err != nil {
			t.Fatalf("strict with all defined failed: %v", err)
		}
		// Strict mode fails only by naming a variable the input references.
		if _, _, err := Expand(s, mapLookup(nil), true); err != nil {
			var ue *UndefinedError
			if !errors.As(err, &ue) || !strings.Contains(s, ue.Name) {
				t.Fatalf("bad strict error %v for %q", err, s)
			}
		}
	})
}
