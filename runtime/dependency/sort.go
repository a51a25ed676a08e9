package dependency

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Ref names an object by kind, namespace and name. In a dependsOn
// reference an empty Namespace means the dependent's own namespace and an
// empty Kind the dependent's own kind, so references between objects of
// one kind need not name it, and one graph may hold several kinds (a
// HelmRelease that depends on a Kustomization).
type Ref struct {
	// Kind is the object's kind, e.g. "Kustomization"; it may be left
	// empty when every object of a graph has the same kind.
	Kind      string
	Namespace string
	Name      string
}

// String returns "namespace/name", or "name" when the namespace is empty,
// prefixed by "Kind/" when the kind is set.
func (r Ref) String() string {
	s := r.Name
	if r.Namespace != "" {
		s = r.Namespace + "/" + s
	}
	if r.Kind != "" {
		s = r.Kind + "/" + s
	}
	return s
}

// Resolve returns r as a reference held by from: an empty Namespace
// becomes from's namespace and an empty Kind from's kind.
func (r Ref) Resolve(from Ref) Ref {
	if r.Namespace == "" {
		r.Namespace = from.Namespace
	}
	if r.Kind == "" {
		r.Kind = from.Kind
	}
	return r
}

// ErrDuplicate is returned (wrapped) by Sort and Levels when two items have
// the same key: dependencies on that key would be ambiguous.
var ErrDuplicate = errors.New("duplicate key")

// CycleError reports a dependency cycle. Cycle lists the objects of one cycle
// in dependency order and ends with its first element again: [a b c a] means
// a depends on b, b on c and c on a. A self-dependency is [a a].
type CycleError struct {
	Cycle []Ref
}

// Error returns "dependency cycle: a -> b -> c -> a".
func (e *CycleError) Error() string {
	parts := make([]string, len(e.Cycle))
	for i, r := range e.Cycle {
		parts[i] = r.String()
	}
	return "dependency cycle: " + strings.Join(parts, " -> ")
}

// graph is the dependency graph of a set of items, by input index.
type graph struct {
	keys []Ref
	// deps[i] lists the indexes item i depends on, in reference order,
	// without duplicates; references outside the set are left out.
	deps [][]int
	// dependents[i] lists the indexes that depend on item i.
	dependents [][]int
}

func buildGraph[T any](items []T, key func(T) Ref, dependsOn func(T) []Ref) (*graph, error) {
	g := &graph{
		keys:       make([]Ref, len(items)),
		deps:       make([][]int, len(items)),
		dependents: make([][]int, len(items)),
	}
	index := make(map[Ref]int, len(items))
	for i, it := range items {
		k := key(it)
		if j, ok := index[k]; ok {
			return nil, fmt.Errorf("%w: %s (items %d and %d)", ErrDuplicate, k, j, i)
		}
		index[k] = i
		g.keys[i] = k
	}
	for i, it := range items {
		refs := dependsOn(it)
		if len(refs) == 0 {
			continue
		}
		for _, r := range refs {
			j, ok := index[r.Resolve(g.keys[i])]
			// Items have few dependencies: a scan beats a set.
			if !ok || slices.Contains(g.deps[i], j) {
				continue
			}
			g.deps[i] = append(g.deps[i], j)
			g.dependents[j] = append(g.dependents[j], i)
		}
	}
	return g, nil
}

// indexHeap is a min-heap of input indexes: among the items whose
// dependencies are all placed, the earliest in the input goes next. It is
// written out rather than built on container/heap to avoid boxing each index.
type indexHeap []int

func (h *indexHeap) push(x int) {
	*h = append(*h, x)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[p] <= q[i] {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

func (h *indexHeap) pop() int {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(q) && q[l] < q[small] {
			small = l
		}
		if r := l + 1; r < len(q) && q[r] < q[small] {
			small = r
		}
		if small == i {
			break
		}
		q[i], q[small] = q[small], q[i]
		i = small
	}
	*h = q
	return top
}

// order runs Kahn's algorithm and returns the input indexes in order together
// with each item's level (0 for items without dependencies in the set, else
// one more than the highest level among its dependencies).
func (g *graph) order() ([]int, []int, error) {
	n := len(g.keys)
	pending := make([]int, n)
	// Indexes pushed in increasing order already form a heap.
	h := make(indexHeap, 0, n)
	for i := range n {
		pending[i] = len(g.deps[i])
		if pending[i] == 0 {
			h = append(h, i)
		}
	}
	level := make([]int, n)
	out := make([]int, 0, n)
	for len(h) > 0 {
		i := h.pop()
		out = append(out, i)
		for _, d := range g.dependents[i] {
			level[d] = max(level[d], level[i]+1)
			pending[d]--
			if pending[d] == 0 {
				h.push(d)
			}
		}
	}
	if len(out) < n {
		return nil, nil, g.cycle(pending)
	}
	return out, level, nil
}

// cycle finds one cycle among the items Kahn's algorithm could not place.
// Each of them still waits for at least one unplaced dependency, so walking
// from one to its first unplaced dependency must come back to a visited item.
// The walk starts at the earliest unplaced item and the cycle is rotated to
// start at its earliest member, so the answer is deterministic.
func (g *graph) cycle(pending []int) *CycleError {
	start := -1
	for i, p := range pending {
		if p > 0 {
			start = i
			break
		}
	}
	pos := map[int]int{}
	var path []int
	for i := start; ; {
		if p, ok := pos[i]; ok {
			path = path[p:]
			break
		}
		pos[i] = len(path)
		path = append(path, i)
		for _, d := range g.deps[i] {
			if pending[d] > 0 {
				i = d
				break
			}
		}
	}
	first := 0
	for k, i := range path {
		if i < path[first] {
			first = k
		}
	}
	cyc := make([]Ref, 0, len(path)+1)
	for k := range path {
		cyc = append(cyc, g.keys[path[(first+k)%len(path)]])
	}
	cyc = append(cyc, cyc[0])
	return &CycleError{Cycle: cyc}
}

// Sort returns the items ordered so that each comes after the items it
// depends on. The sort is stable: whenever several items may come next, the
// one earliest in the input does, so an input that is already correctly
// ordered is returned unchanged.
//
// key returns an item's identity and dependsOn its references; a reference
// with an empty namespace means the item's own namespace, one with an empty
// kind the item's own kind (see Ref.Resolve). References to keys
// that are not among the items are ignored (see Missing), as are repeated
// references. Two items with the same key are an error wrapping ErrDuplicate;
// a cycle is a *CycleError. The input slice is not modified.
func Sort[T any](items []T, key func(T) Ref, dependsOn func(T) []Ref) ([]T, error) {
	g, err := buildGraph(items, key, dependsOn)
	if err != nil {
		return nil, err
	}
	idx, _, err := g.order()
	if err != nil {
		return nil, err
	}
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = items[i]
	}
	return out, nil
}

// Levels groups the items into stages: the first holds the items that depend
// on none of the others, and every later stage holds the items whose
// dependencies are all in earlier stages. Items of one stage do not depend on
// each other and may be handled concurrently. Within a stage, items keep
// their input order. References and errors are treated as by Sort.
func Levels[T any](items []T, key func(T) Ref, dependsOn func(T) []Ref) ([][]T, error) {
	g, err := buildGraph(items, key, dependsOn)
	if err != nil {
		return nil, err
	}
	_, level, err := g.order()
	if err != nil {
		return nil, err
	}
	var out [][]T
	for i, l := range level {
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], items[i])
	}
	return out, nil
}

// MissingRef is a dependsOn reference whose target is not among the items.
type MissingRef struct {
	// From is the key of the item that holds the reference.
	From Ref
	// To is the reference, its namespace and kind resolved.
	To Ref
}

// Missing returns the references whose target is not among the items, in
// input order, each once per item. Namespaces and kinds are resolved as by
// Sort.
func Missing[T any](items []T, key func(T) Ref, dependsOn func(T) []Ref) []MissingRef {
	keys := make(map[Ref]struct{}, len(items))
	for _, it := range items {
		keys[key(it)] = struct{}{}
	}
	var out []MissingRef
	for _, it := range items {
		from := key(it)
		var seen map[Ref]bool
		for _, r := range dependsOn(it) {
			r = r.Resolve(from)
			if _, ok := keys[r]; ok || seen[r] {
				continue
			}
			if seen == nil {
				seen = map[Ref]bool{}
			}
			seen[r] = true
			out = append(out, MissingRef{From: from, To: r})
		}
	}
	return out
}
