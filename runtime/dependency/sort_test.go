package dependency_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/runtime/dependency"
)

// node is a test item: "ns/name" depending on refs written the same way
// ("name" alone means the dependent's namespace).
type node struct {
	key  dependency.Ref
	deps []dependency.Ref
}

func ref(s string) dependency.Ref {
	for i := range len(s) {
		if s[i] == '/' {
			return dependency.Ref{Namespace: s[:i], Name: s[i+1:]}
		}
	}
	return dependency.Ref{Name: s}
}

// nodes builds items from "key:dep,dep" strings.
func nodes(specs ...string) []node {
	var out []node
	for _, s := range specs {
		var n node
		key, deps, _ := cut(s, ':')
		n.key = ref(key)
		for deps != "" {
			var d string
			d, deps, _ = cut(deps, ',')
			n.deps = append(n.deps, ref(d))
		}
		out = append(out, n)
	}
	return out
}

func cut(s string, sep byte) (string, string, bool) {
	for i := range len(s) {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func key(n node) dependency.Ref         { return n.key }
func dependsOn(n node) []dependency.Ref { return n.deps }

func keys(ns []node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.key.String()
	}
	return out
}

func TestSort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		items []node
		want  []string
	}{
		{name: "empty", items: nil, want: []string{}},
		{name: "independent items keep input order", items: nodes("a/c", "a/a", "a/b"), want: []string{"a/c", "a/a", "a/b"}},
		{name: "sorted input is unchanged", items: nodes("a/x", "a/y:x", "a/z:y"), want: []string{"a/x", "a/y", "a/z"}},
		{name: "chain reversed", items: nodes("a/z:y", "a/y:x", "a/x"), want: []string{"a/x", "a/y", "a/z"}},
		{
			name:  "dependency moves only as far as needed",
			items: nodes("a/app:db", "a/other", "a/db", "a/last"),
			want:  []string{"a/other", "a/db", "a/app", "a/last"},
		},
		{
			name:  "diamond",
			items: nodes("a/top:left,right", "a/right:base", "a/left:base", "a/base"),
			want:  []string{"a/base", "a/right", "a/left", "a/top"},
		},
		{
			name:  "empty namespace resolves to the dependent's namespace",
			items: nodes("b/app:db", "a/db", "b/db"),
			want:  []string{"a/db", "b/db", "b/app"},
		},
		{
			name:  "cross-namespace reference",
			items: nodes("b/app:a/db", "b/db", "a/db"),
			want:  []string{"b/db", "a/db", "b/app"},
		},
		{
			name:  "missing references and repeats are ignored",
			items: nodes("a/app:gone,db,db", "a/db:x/nowhere"),
			want:  []string{"a/db", "a/app"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := append([]node(nil), tt.items...)
			got, err := dependency.Sort(in, key, dependsOn)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, keys(got)); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(keys(tt.items), keys(in)); diff != "" {
				t.Errorf("input modified (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSortCycles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		items   []node
		want    []string
		wantMsg string
	}{
		{
			name:    "self",
			items:   nodes("a/x", "a/self:self"),
			want:    []string{"a/self", "a/self"},
			wantMsg: "dependency cycle: a/self -> a/self",
		},
		{
			name:    "two",
			items:   nodes("a/a:b", "a/b:a"),
			want:    []string{"a/a", "a/b", "a/a"},
			wantMsg: "dependency cycle: a/a -> a/b -> a/a",
		},
		{
			name:    "three, reported from its earliest member",
			items:   nodes("a/free", "a/c:a", "a/b:c", "a/a:b"),
			want:    []string{"a/c", "a/a", "a/b", "a/c"},
			wantMsg: "dependency cycle: a/c -> a/a -> a/b -> a/c",
		},
		{
			name:  "items depending on a cycle are not named in it",
			items: nodes("a/user:x", "a/x:y", "a/y:z", "a/z:x"),
			want:  []string{"a/x", "a/y", "a/z", "a/x"},
		},
		{
			name:  "cycle across namespaces",
			items: nodes("a/app:b/app", "b/app:a/app"),
			want:  []string{"a/app", "b/app", "a/app"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for name, run := range map[string]func() error{
				"Sort":   func() error { _, err := dependency.Sort(tt.items, key, dependsOn); return err },
				"Levels": func() error { _, err := dependency.Levels(tt.items, key, dependsOn); return err },
			} {
				err := run()
				var ce *dependency.CycleError
				if !errors.As(err, &ce) {
					t.Fatalf("%s: error = %v, want *CycleError", name, err)
				}
				got := make([]string, len(ce.Cycle))
				for i, r := range ce.Cycle {
					got[i] = r.String()
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: cycle (-want +got):\n%s", name, diff)
				}
				if tt.wantMsg != "" && err.Error() != tt.wantMsg {
					t.Errorf("%s: message = %q, want %q", name, err.Error(), tt.wantMsg)
				}
			}
		})
	}
}

func TestSortDuplicateKey(t *testing.T) {
	t.Parallel()
	_, err := dependency.Sort(nodes("a/x", "a/y", "a/x"), key, dependsOn)
	if !errors.Is(err, dependency.ErrDuplicate) {
		t.Fatalf("error = %v, want ErrDuplicate", err)
	}
	if want := "duplicate key: a/x (items 0 and 2)"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
}

func TestLevels(t *testing.T) {
	t.Parallel()
	items := nodes("a/app:db,cache", "a/cache", "a/db:net", "a/net", "a/ui:app", "a/free")
	got, err := dependency.Levels(items, key, dependsOn)
	if err != nil {
		t.Fatal(err)
	}
	var gotKeys [][]string
	for _, l := range got {
		gotKeys = append(gotKeys, keys(l))
	}
	want := [][]string{{"a/cache", "a/net", "a/free"}, {"a/db"}, {"a/app"}, {"a/ui"}}
	if diff := cmp.Diff(want, gotKeys); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
}

func TestMissing(t *testing.T) {
	t.Parallel()
	items := nodes("a/app:db,gone,gone,b/db", "a/db", "b/x:a/db,y")
	got := dependency.Missing(items, key, dependsOn)
	want := []dependency.MissingRef{
		{From: ref("a/app"), To: ref("a/gone")},
		{From: ref("a/app"), To: ref("b/db")},
		{From: ref("b/x"), To: ref("b/y")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
}

func TestRefString(t *testing.T) {
	t.Parallel()
	for in, want := range map[dependency.Ref]string{
		{Name: "x"}:                 "x",
		{Namespace: "n", Name: "x"}: "n/x",
		{Kind: "HelmRelease", Namespace: "n", Name: "x"}: "HelmRelease/n/x",
	} {
		if got := in.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", in, got, want)
		}
	}
}

// A graph of two kinds: references without a kind are of their
// dependent's kind, so a Kustomization "db" and a HelmRelease "db" are two
// objects, and a cross-kind reference orders across kinds.
func TestSortAcrossKinds(t *testing.T) {
	t.Parallel()
	type item struct {
		key  dependency.Ref
		deps []dependency.Ref
	}
	items := []item{
		{key: dependency.Ref{Kind: "HelmRelease", Namespace: "a", Name: "app"}, deps: []dependency.Ref{{Name: "db"}, {Kind: "Kustomization", Name: "crds"}}},
		{key: dependency.Ref{Kind: "HelmRelease", Namespace: "a", Name: "db"}},
		{key: dependency.Ref{Kind: "Kustomization", Namespace: "a", Name: "db"}, deps: []dependency.Ref{{Name: "app", Kind: "HelmRelease"}}},
		{key: dependency.Ref{Kind: "Kustomization", Namespace: "a", Name: "crds"}},
	}
	key := func(i item) dependency.Ref { return i.key }
	deps := func(i item) []dependency.Ref { return i.deps }
	got, err := dependency.Sort(items, key, deps)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, i := range got {
		order = append(order, i.key.String())
	}
	want := []string{"HelmRelease/a/db", "Kustomization/a/crds", "HelmRelease/a/app", "Kustomization/a/db"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if m := dependency.Missing(items, key, deps); len(m) != 0 {
		t.Errorf("missing = %v, want none", m)
	}
}

// FuzzSort checks on arbitrary graphs that Sort either returns a
// permutation in which every item follows its dependencies, or a cycle whose
// every step is a real dependency.
func FuzzSort(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 0})
	f.Add([]byte{3, 1, 4, 1, 5, 9, 2, 6})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, edges []byte) {
		const n = 8
		items := make([]node, n)
		for i := range items {
			items[i].key = dependency.Ref{Namespace: "ns", Name: fmt.Sprint(i)}
		}
		for k := 0; k+1 < len(edges); k += 2 {
			from, to := int(edges[k])%n, int(edges[k+1])%n
			items[from].deps = append(items[from].deps, dependency.Ref{Name: fmt.Sprint(to)})
		}
		deps := map[dependency.Ref]map[dependency.Ref]bool{}
		for _, it := range items {
			deps[it.key] = map[dependency.Ref]bool{}
			for _, d := range it.deps {
				deps[it.key][dependency.Ref{Namespace: "ns", Name: d.Name}] = true
			}
		}
		got, err := dependency.Sort(items, key, dependsOn)
		var ce *dependency.CycleError
		switch {
		case errors.As(err, &ce):
			if len(ce.Cycle) < 2 || ce.Cycle[0] != ce.Cycle[len(ce.Cycle)-1] {
				t.Fatalf("malformed cycle %v", ce.Cycle)
			}
			for i := 0; i+1 < len(ce.Cycle); i++ {
				if !deps[ce.Cycle[i]][ce.Cycle[i+1]] {
					t.Fatalf("cycle step %s -> %s is not a dependency", ce.Cycle[i], ce.Cycle[i+1])
				}
			}
		case err != nil:
			t.Fatal(err)
		default:
			if len(got) != n {
				t.Fatalf("got %d items, want %d", len(got), n)
			}
			placed := map[dependency.Ref]bool{}
			for _, it := range got {
				for d := range deps[it.key] {
					if !placed[d] {
						t.Fatalf("%s placed before its dependency %s", it.key, d)
					}
				}
				placed[it.key] = true
			}
		}
	})
}

func BenchmarkSort(b *testing.B) {
	// A layered graph of 5000 items, each depending on up to three items of
	// the previous layer, given in reverse order.
	const n = 5000
	items := make([]node, n)
	for i := range items {
		items[i].key = dependency.Ref{Namespace: "ns", Name: fmt.Sprint(i)}
		if i >= 50 {
			for k := 1; k <= 3; k++ {
				items[i].deps = append(items[i].deps, dependency.Ref{Name: fmt.Sprint((i/50-1)*50 + (i*7+k*13)%50)})
			}
		}
	}
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dependency.Sort(items, key, dependsOn); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(n, "items/op")
}
