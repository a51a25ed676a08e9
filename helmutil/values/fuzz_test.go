package values

import (
	"strings"
	"testing"
)

// FuzzTargetPath feeds arbitrary target paths and values to the parser and
// the setter: nothing panics, a parsed path written back parses to the same
// steps, and the value set is found at the path.
func FuzzTargetPath(f *testing.F) {
	for _, s := range []string{"a", "a.b", "a[0]", "a[1][2].c", `a\.b`, `x\[0\]`, "a..b", "[0]", "a[", `\`, "a=b", "a[65536]", "ü.ß"} {
		f.Add(s, "v")
	}
	f.Add("a.b", `"quoted"`)
	f.Add("l[3]", "null")
	f.Fuzz(func(t *testing.T, path, raw string) {
		steps, err := parsePath(path)
		if err != nil {
			if !strings.Contains(err.Error(), "target path") {
				t.Fatalf("error %q does not say it is about the target path", err)
			}
			return
		}
		if len(steps) == 0 || steps[0].list {
			t.Fatalf("%q parsed to %v: a path starts with a key", path, steps)
		}
		again, err := parsePath(formatSteps(steps))
		if err != nil || len(again) != len(steps) {
			t.Fatalf("%q → %q does not parse back: %v", path, formatSteps(steps), err)
		}
		for i := range steps {
			if again[i] != steps[i] {
				t.Fatalf("%q → %q: step %d %v != %v", path, formatSteps(steps), i, again[i], steps[i])
			}
		}
		m := map[string]any{}
		v := typedValue(raw)
		if err := setPath(m, steps, v); err != nil {
			t.Fatalf("setting into empty values: %v", err)
		}
		var cur any = m
		for _, s := range steps {
			if s.list {
				cur = cur.([]any)[s.index]
			} else {
				cur = cur.(map[string]any)[s.key]
			}
		}
		if cur != v {
			t.Fatalf("%q: found %#v, set %#v", path, cur, v)
		}
		if _, err := Checksum(m); err != nil {
			t.Fatalf("checksum: %v", err)
		}
	})
}
