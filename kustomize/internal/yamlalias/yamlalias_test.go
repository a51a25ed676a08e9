package yamlalias

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// laughs returns a billion-laughs document: levels of anchors, each
// holding width aliases of the previous one.
func laughs(levels, width int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  l0: &l0 [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("lol,", width), ","))
	b.WriteString("]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [", i, i)
		for j := range width {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	compose := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nx-common: &common\n  image: nginx\n  env: [a, b, c]\nservices:\n  a: *common\n  b: *common\n  c:\n    <<: *common\n    image: other\n"
	tests := []struct {
		name      string
		data      string
		floor     int64
		wantLine  int
		recursive bool
	}{
		{name: "no aliases", data: "a: 1\nb: [1, 2]\n", floor: DefaultFloor},
		{name: "shell text", data: "script: a && b * c\n", floor: DefaultFloor},
		{name: "reuse within bounds", data: compose, floor: DefaultFloor},
		{name: "billion laughs", data: laughs(9, 9), floor: DefaultFloor, wantLine: 1},
		{name: "small floor", data: laughs(3, 9), floor: 10, wantLine: 1},
		{name: "within floor", data: laughs(3, 9), floor: DefaultFloor},
		{name: "merge keys", data: "a: &a {x: 1, y: 2, z: 3}\nb: &b {<<: [*a, *a, *a]}\nc: &c {<<: [*b, *b, *b]}\nd: &d {k: [*c, *c, *c, *c, *c]}\ne: [*d, *d, *d, *d, *d, *d, *d, *d]\n", floor: 10, wantLine: 1},
		{name: "recursive", data: "a: 1\nb: &b\n  c: *b\n", floor: DefaultFloor, wantLine: 3, recursive: true},
		{name: "recursive sequence", data: "&a [*a]\n", floor: DefaultFloor, wantLine: 1, recursive: true},
		{name: "second document", data: "a: 1\n---\n" + laughs(9, 9), floor: DefaultFloor, wantLine: 3},
		{name: "after a broken piece", data: "a: [\n---\n" + laughs(9, 9), floor: DefaultFloor, wantLine: 3},
		{name: "inside a string", data: "patch: |\n" + indent(laughs(9, 9)), floor: DefaultFloor, wantLine: 1},
		{name: "two strings deep", data: "outer: |\n" + indent("inner: |\n"+indent(laughs(9, 9))), floor: DefaultFloor, wantLine: 1},
		{name: "unknown anchor", data: "a: *nope\n", floor: DefaultFloor},
		{name: "disabled", data: laughs(9, 9), floor: -1},
	}
	for _, tt := range tests {
		err := Check([]byte(tt.data), tt.floor)
		if tt.wantLine == 0 {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var ae *Error
		if !errors.As(err, &ae) {
			t.Errorf("%s: want *Error, got %v", tt.name, err)
			continue
		}
		if ae.Line != tt.wantLine || ae.Recursive != tt.recursive {
			t.Errorf("%s: got %+v, want line %d recursive %v", tt.name, ae, tt.wantLine, tt.recursive)
		}
	}
}

// A large document may grow by its own size through aliases.
func TestCheckRelativeToSize(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("base: &base [")
	for i := range 3000 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString("]\n")
	b.WriteString("copy1: *base\n")
	if err := Check([]byte(b.String()), 100); err != nil {
		t.Fatalf("one copy of a large anchor: %v", err)
	}
	b.WriteString("copy2: *base\n")
	if err := Check([]byte(b.String()), 100); err == nil {
		t.Fatal("two copies (more than doubling the document) accepted")
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// FuzzCheck cross-checks Check with kustomize's own reader: whatever Check
// accepts, kyaml de-anchors into no more nodes than the bound allows (and
// never recurses forever).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"a: &a [1, 2]\nb: [*a, *a]\n", "&a [*a]\n", laughs(3, 3), "a: 1\n---\nb: &b {c: 1}\nd: *b\n", "x: &x\n  <<: *x\n",
		"a: &a {x: 1}\nb:\n  <<: [*a, *a]\n", "p: |\n  a: &a [1]\n  b: [*a]\n"} {
		f.Add([]byte(s))
	}
	const floor = 100
	f.Fuzz(func(t *testing.T, data []byte) {
		if Check(data, floor) != nil {
			return
		}
		nodes, err := kio.FromBytes(data)
		if err != nil {
			return
		}
		for _, n := range nodes {
			count := 0
			var visit func(*kyaml.Node)
			visit = func(y *kyaml.Node) {
				count++
				if count > 1_000_000 {
					t.Fatalf("accepted %q, which kyaml expands past a million nodes", data)
				}
				for _, c := range y.Content {
					visit(c)
				}
			}
			visit(n.YNode())
			if limit := 2*len(data) + 2*floor + 8; count > limit {
				t.Fatalf("accepted %q: kyaml made %d nodes of %d bytes", data, count, len(data))
			}
		}
	})
}

// BenchmarkCheck measures the bound on what triggers it: a 1,000-object
// stream whose strings hold '&' and '*' (shell commands, wildcard hosts), so
// every document is parsed, and the same stream without them (a byte scan).
func BenchmarkCheck(b *testing.B) {
	var with, without strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&with, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\ndata:\n  run: make build && make test\n  hosts: \"*.example.com\"\n  base: &b%d {a: 1, b: 2}\n  copy: *b%d\n", i, i, i)
		fmt.Fprintf(&without, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\ndata:\n  run: make build and make test\n  hosts: \"example.com\"\n  base: {a: 1, b: 2}\n  copy: {a: 1, b: 2}\n", i)
	}
	for name, s := range map[string]string{"anchors": with.String(), "no-anchors": without.String()} {
		data := []byte(s)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Check(data, DefaultFloor); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
