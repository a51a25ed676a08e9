package patch

import (
	"fmt"
	"slices"
	"testing"
)

// FuzzMergeConditions checks the rule the whole helper rests on: laying a
// writer's owned conditions over the server's list keeps every condition the
// writer does not own exactly as it is, writes every owned condition the
// writer has, drops owned conditions the writer removed, and never duplicates
// a type.
func FuzzMergeConditions(f *testing.F) {
	f.Add([]byte("ABC"), []byte("BD"), []byte("BCD"))
	f.Add([]byte(""), []byte("A"), []byte("A"))
	f.Add([]byte("AAB"), []byte(""), []byte("B"))
	f.Fuzz(func(t *testing.T, current, desired, owned []byte) {
		name := func(b byte) string { return fmt.Sprintf("T%d", b%8) }
		var cur []any
		seen := map[string]bool{}
		for _, b := range current {
			if n := name(b); !seen[n] {
				seen[n] = true
				cur = append(cur, map[string]any{"type": n, "status": "server"})
			}
		}
		des := map[string]any{}
		for _, b := range desired {
			des[name(b)] = map[string]any{"type": name(b), "status": "mine"}
		}
		var own []string
		for _, b := range owned {
			if n := name(b); !slices.Contains(own, n) {
				own = append(own, n)
			}
		}

		out := mergeConditions(cur, des, own)
		got := map[string]string{}
		for _, item := range out {
			m := item.(map[string]any)
			typ := m["type"].(string)
			if _, dup := got[typ]; dup {
				t.Fatalf("type %s twice in %v", typ, out)
			}
			got[typ] = m["status"].(string)
		}
		for _, item := range cur {
			typ := item.(map[string]any)["type"].(string)
			if !slices.Contains(own, typ) && got[typ] != "server" {
				t.Fatalf("not-owned %s changed or lost: %v", typ, out)
			}
		}
		for _, typ := range own {
			_, want := des[typ]
			status, has := got[typ]
			if want && status != "mine" {
				t.Fatalf("owned %s not written: %v", typ, out)
			}
			if !want && has {
				t.Fatalf("owned %s removed by the writer still present: %v", typ, out)
			}
		}
		for typ, status := range got {
			if status == "mine" && !slices.Contains(own, typ) {
				t.Fatalf("not-owned %s written from the writer's copy: %v", typ, out)
			}
		}
	})
}
