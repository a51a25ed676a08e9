package values

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/strvals"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want []step
	}{
		{"a", []step{{key: "a"}}},
		{"a.b.c", []step{{key: "a"}, {key: "b"}, {key: "c"}}},
		{"list[0]", []step{{key: "list"}, {index: 0, list: true}}},
		{"list[12].name", []step{{key: "list"}, {index: 12, list: true}, {key: "name"}}},
		{"m[0][1]", []step{{key: "m"}, {index: 0, list: true}, {index: 1, list: true}}},
		{`a\.b.c`, []step{{key: "a.b"}, {key: "c"}}},
		{`ingress.annotations.kubernetes\.io/ingress\.class`, []step{{key: "ingress"}, {key: "annotations"}, {key: "kubernetes.io/ingress.class"}}},
		{`a\[0\]`, []step{{key: "a[0]"}}},
		{`a\=b\,c\\d`, []step{{key: `a=b,c\d`}}},
		{"with space.x", []step{{key: "with space"}, {key: "x"}}},
		{"ünï.çødé", []step{{key: "ünï"}, {key: "çødé"}}},
	} {
		got, err := parsePath(tc.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tc.path, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(step{})); diff != "" {
			t.Errorf("parsePath(%q) (-want +got):\n%s", tc.path, diff)
		}
	}
}

func TestParsePathRefuses(t *testing.T) {
	for _, tc := range []struct{ path, reason string }{
		{"", "empty path"},
		{".a", "empty key"},
		{"a.", "empty key after"},
		{"a..b", "empty key"},
		{"[0]", "empty key"},
		{"a[", "list index"},
		{"a[]", "list index"},
		{"a[x]", "list index"},
		{"a[-1]", "list index"},
		{"a[1", "list index"},
		{"a[65537]", "greater than"},
		{"a[99999999999999999999]", "greater than"},
		{"a[0]b", "expected '.' or '['"},
		{"a=b", "unescaped '='"},
		{"a,b", "unescaped ','"},
		{"a]", "unescaped ']'"},
		{`a\`, "escapes nothing"},
		{strings.Repeat("a.", 30) + "a", "more than 30"},
		{strings.Repeat("a", 5000), "longer than"},
	} {
		_, err := parsePath(tc.path)
		var pe *PathError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("parsePath(%q) = %v, want a *PathError matching ErrInvalid", tc.path, err)
			continue
		}
		if !strings.Contains(pe.Reason, tc.reason) && !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("parsePath(%q) = %v, want the reason to say %q", tc.path, err, tc.reason)
		}
		if pe.Offset < 0 || pe.Offset > len(tc.path) {
			t.Errorf("parsePath(%q): offset %d outside the path", tc.path, pe.Offset)
		}
		if ValidatePath(tc.path) == nil {
			t.Errorf("ValidatePath(%q) accepted what parsePath refused", tc.path)
		}
	}
}

// TestSetPathAsHelm checks that a path and a value without characters
// --set treats specially land where `helm --set path=value` puts them,
// with the same type.
func TestSetPathAsHelm(t *testing.T) {
	bases := []map[string]any{
		nil,
		{"a": "scalar", "list": []any{"x"}},
		{"a": map[string]any{"b": map[string]any{"keep": true}}, "list": []any{map[string]any{"name": "first", "port": int64(80)}}},
	}
	paths := []string{"a", "a.b", "a.b.c", "list[0]", "list[0].name", "list[2].port", "m[1][0]", "list[0].ports[1].name", "x.y[3]"}
	vals := []string{"v", "true", "FALSE", "null", "0", "012", "42", "-7", "+3", "9223372036854775808", "1.5", "with space", "TrUe"}
	for _, base := range bases {
		for _, p := range paths {
			for _, v := range vals {
				want := deepCopy(base)
				if want == nil {
					want = map[string]any{}
				}
				helmErr := strvals.ParseInto(p+"="+v, want)
				got := deepCopy(base)
				if got == nil {
					got = map[string]any{}
				}
				steps, err := parsePath(p)
				if err != nil {
					t.Fatalf("parsePath(%q): %v", p, err)
				}
				ourErr := setPath(got, steps, typedValue(v))
				switch {
				case helmErr != nil && ourErr == nil:
					t.Errorf("base %v, %s=%s: helm fails (%v), we set %v", base, p, v, helmErr, got)
				case helmErr == nil && ourErr != nil:
					// The one deliberate difference: Helm replaces a
					// scalar inside a list, we refuse as everywhere else.
					if !strings.Contains(ourErr.Error(), "at list[0], where the values hold a string") {
						t.Errorf("base %v, %s=%s: helm sets %v, we fail: %v", base, p, v, want, ourErr)
					}
				case ourErr == nil:
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("base %v, %s=%s (-helm +ours):\n%s", base, p, v, diff)
					}
				}
				if ourErr != nil && !errors.Is(ourErr, ErrInvalid) {
					t.Errorf("%s: error %v does not match ErrInvalid", p, ourErr)
				}
			}
		}
	}
}

func TestTypedValueQuoted(t *testing.T) {
	for raw, want := range map[string]any{
		`"true"`:  "true",
		`'42'`:    "42",
		`"null"`:  "null",
		`''`:      "",
		`"a,b=c"`: "a,b=c",
		`"mixed'`: `"mixed'`,
		`"`:       `"`,
		`a,b=c`:   "a,b=c", // never split
	} {
		if got := typedValue(raw); got != want {
			t.Errorf("typedValue(%s) = %#v, want %#v", raw, got, want)
		}
	}
}

// TestMergeAsHelm compares Merge with Helm's own merge of values files.
func TestMergeAsHelm(t *testing.T) {
	a := map[string]any{"x": 1.0, "m": map[string]any{"a": "1", "n": map[string]any{"deep": true}}, "l": []any{1.0}, "gone": "v"}
	b := map[string]any{"y": 2.0, "m": map[string]any{"b": "2", "n": nil}, "l": []any{2.0, 3.0}, "gone": nil, "x": map[string]any{"now": "map"}}
	got := Merge(a, b)
	want := loader.MergeMaps(a, b)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge (-helm +ours):\n%s", diff)
	}
	if a["m"].(map[string]any)["b"] != nil {
		t.Error("Merge modified dst")
	}
}

func ExampleValidatePath() {
	for _, p := range []string{"image.tag", `annotations.example\.com/team`, "env[0].value", "a..b"} {
		fmt.Println(p, ValidatePath(p) == nil)
	}
	// Output:
	// image.tag true
	// annotations.example\.com/team true
	// env[0].value true
	// a..b false
}
