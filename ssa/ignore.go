package ssa

import (
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// IgnoreRule names fields, by JSON pointer (RFC 6901, such as
// "/spec/replicas" or "/metadata/annotations/example.com~1build"), of the
// objects Selector matches, that are not the set's to decide: Flux's
// driftIgnoreRules.
//
// In Diff (DiffOptions.IgnoreRules) they are removed from both sides, so
// they show no drift. In Apply (ApplyOptions.IgnoreRules) they are neither
// applied nor counted as a change on an object that exists, and the
// Manager sends, for each such field, what keeps the live value:
//   - a field no other field manager owns but the owner does is sent with
//     its live value: leaving it out of an apply would make the API server
//     delete it (and default it again), since no one else holds it;
//   - a field another manager owns (an autoscaler's replicas, a webhook's
//     annotation) is left out, so the owner gives up its share and the
//     value stays the other manager's;
//   - a field nobody owns, or absent on the live object, is left out.
//
// So an ignored field keeps its live value, and the owner lets go of it as
// soon as another manager writes it. A new object is created with the
// fields as the manifest has them. A pointer into an atomic value (an
// element of a container's args, say) ignores the whole atomic value; a
// list index resolves against the live object.
type IgnoreRule struct {
	Paths    []string
	Selector Selector
}

// Selector matches objects; empty fields match anything. LabelSelector
// uses the kubectl syntax ("app=web,tier!=db").
type Selector struct {
	Group, Version, Kind string
	Name, Namespace      string
	LabelSelector        string
}

func (s Selector) matches(obj *unstructured.Unstructured, ls labels.Selector) bool {
	gvk := obj.GroupVersionKind()
	return (s.Group == "" || s.Group == gvk.Group) &&
		(s.Version == "" || s.Version == gvk.Version) &&
		(s.Kind == "" || s.Kind == gvk.Kind) &&
		(s.Name == "" || s.Name == obj.GetName()) &&
		(s.Namespace == "" || s.Namespace == obj.GetNamespace()) &&
		(ls == nil || ls.Matches(labels.Set(obj.GetLabels())))
}

type ignoreRule struct {
	paths    [][]string
	selector Selector
	labels   labels.Selector
}

func compileIgnoreRules(rules []IgnoreRule) ([]ignoreRule, error) {
	out := make([]ignoreRule, 0, len(rules))
	for _, r := range rules {
		ir := ignoreRule{selector: r.Selector}
		if r.Selector.LabelSelector != "" {
			ls, err := labels.Parse(r.Selector.LabelSelector)
			if err != nil {
				return nil, fmt.Errorf("ignore rule label selector %q: %w", truncate(r.Selector.LabelSelector), err)
			}
			ir.labels = ls
		}
		for _, p := range r.Paths {
			tokens, err := ParseJSONPointer(p)
			if err != nil {
				return nil, err
			}
			ir.paths = append(ir.paths, tokens)
		}
		out = append(out, ir)
	}
	return out, nil
}

// ParseJSONPointer splits an RFC 6901 JSON pointer into unescaped
// reference tokens. The empty pointer (the whole document) is refused: an
// ignore rule for everything is a mistake.
func ParseJSONPointer(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("%w: json pointer %q must start with '/'", ErrInvalidID, truncate(p))
	}
	if len(p) > maxDependsOn {
		return nil, fmt.Errorf("%w: json pointer longer than %d bytes", ErrInvalidID, maxDependsOn)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || (t[j+1] != '0' && t[j+1] != '1')) {
				return nil, fmt.Errorf("%w: json pointer %q: '~' must be followed by 0 or 1", ErrInvalidID, truncate(p))
			}
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// removePointer removes the value at the pointer tokens from v, for a
// diff: a list item is blanked rather than removed, so the indexes of both
// sides keep matching.
func removePointer(v any, tokens []string) {
	for i, t := range tokens {
		last := i == len(tokens)-1
		switch c := v.(type) {
		case map[string]any:
			if last {
				delete(c, t)
				return
			}
			v = c[t]
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(c) {
				return
			}
			if last {
				c[n] = nil
				return
			}
			v = c[n]
		default:
			return
		}
	}
}

// ignoreFields returns what to apply to live instead of obj under the
// rules (see IgnoreRule): obj itself when no rule matches or the object is
// new, a changed copy otherwise.
func ignoreFields(obj, live *unstructured.Unstructured, rules []ignoreRule, owner string) (*unstructured.Unstructured, error) {
	if live == nil {
		return obj, nil
	}
	var out *unstructured.Unstructured
	var root node
	for _, r := range rules {
		if !r.selector.matches(obj, r.labels) {
			continue
		}
		if out == nil {
			out = obj.DeepCopy()
			mine, others, err := ownership(live, owner)
			if err != nil {
				return nil, err
			}
			root = node{d: out.Object, l: live.Object, mine: mine, others: others}
		}
		for _, p := range r.paths {
			root.walk(p)
		}
	}
	if out == nil {
		return obj, nil
	}
	out.Object = compact(out.Object).(map[string]any)
	return out, nil
}

// ownership splits live's managed fields into the owner's Apply set (what
// the API server removes when the owner stops sending it and no one else
// holds it) and the union of every other entry, subresources included.
func ownership(live *unstructured.Unstructured, owner string) (mine, others *fieldpath.Set, err error) {
	mine, others = &fieldpath.Set{}, &fieldpath.Set{}
	for _, e := range live.GetManagedFields() {
		s, err := parseFields(e)
		if err != nil {
			return nil, nil, err
		}
		if e.Manager == owner && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			mine = mine.Union(s)
		} else {
			others = others.Union(s)
		}
	}
	return mine, others, nil
}

// node is a container (map or list) of the desired object with its live
// counterpart and the managed field sets of its members.
type node struct {
	d, l         any
	mine, others *fieldpath.Set
}

// member is one field or list item of a node: its path element in
// managed fields and its live value.
type member struct {
	n  node
	t  string // map key, or the index of the live list item
	pe fieldpath.PathElement
	lv any
}

// removed marks a list item left out of the desired object; compact drops
// it once every rule has run, so indexes stay valid meanwhile.
type removedItem struct{}

var removed = removedItem{}

// walk follows pointer tokens from n, live and desired side by side, and
// settles the member the pointer names: a pointer into an atomic value
// settles that value, a pointer to something the live object lacks
// removes it from the desired object.
func (n node) walk(tokens []string) {
	for i, t := range tokens {
		m, ok := n.member(t)
		if !ok {
			n.remove(t, m.pe)
			return
		}
		mineLeaf, othersLeaf := n.mine.Members.Has(m.pe), n.others.Members.Has(m.pe)
		mineSub, othersSub := sub(n.mine, m.pe), sub(n.others, m.pe)
		last := i == len(tokens)-1
		if last || ((mineLeaf || othersLeaf) && mineSub.Empty() && othersSub.Empty()) {
			m.settle()
			return
		}
		dv, ok := n.desired(t, m.pe, m.lv)
		if !ok {
			return // the desired object lacks this list item: nothing is sent
		}
		n = node{d: dv, l: m.lv, mine: mineSub, others: othersSub}
	}
}

// member returns the member of n at token t, false when live lacks it.
func (n node) member(t string) (member, bool) {
	m := member{n: n, t: t}
	switch c := n.l.(type) {
	case map[string]any:
		m.pe = fieldpath.PathElement{FieldName: strPtr(t)}
		v, ok := c[t]
		m.lv = v
		return m, ok
	case []any:
		i, err := strconv.Atoi(t)
		if err != nil || i < 0 || i >= len(c) {
			return m, false
		}
		m.lv = c[i]
		m.pe = fieldpath.PathElement{Index: &i}
		for _, s := range []*fieldpath.Set{n.mine, n.others} {
			if pe, ok := findItem(s, c[i], i); ok {
				m.pe = pe
				break
			}
		}
		return m, true
	}
	return m, false
}

// settle keeps the live value of a member only the owner holds, leaves
// out one others hold or no one holds, and settles a member both hold
// member by member.
func (m member) settle() {
	n := m.n
	mineLeaf, othersLeaf := n.mine.Members.Has(m.pe), n.others.Members.Has(m.pe)
	mineSub, othersSub := sub(n.mine, m.pe), sub(n.others, m.pe)
	mineOwns, othersOwns := mineLeaf || !mineSub.Empty(), othersLeaf || !othersSub.Empty()
	switch {
	case mineOwns && !othersOwns:
		n.set(m.t, m.pe, runtime.DeepCopyJSONValue(m.lv))
	case mineOwns && othersOwns && !mineSub.Empty() && !othersSub.Empty():
		dv, ok := n.desired(m.t, m.pe, m.lv)
		if !ok {
			return
		}
		c := node{d: dv, l: m.lv, mine: mineSub, others: othersSub}
		switch lv := m.lv.(type) {
		case map[string]any:
			if dm, ok := dv.(map[string]any); ok {
				for k := range dm {
					if _, live := lv[k]; !live {
						delete(dm, k)
					}
				}
			}
			for k := range lv {
				c.walk([]string{k})
			}
		case []any:
			for i := range lv {
				c.walk([]string{strconv.Itoa(i)})
			}
		default:
			n.remove(m.t, m.pe)
		}
	default:
		n.remove(m.t, m.pe)
	}
}

func sub(s *fieldpath.Set, pe fieldpath.PathElement) *fieldpath.Set {
	if c, ok := s.Children.Get(pe); ok && c != nil {
		return c
	}
	return &fieldpath.Set{}
}

// findItem returns the path element of set that names the list item at
// index i: its key, its value or its index.
func findItem(s *fieldpath.Set, item any, i int) (fieldpath.PathElement, bool) {
	var found fieldpath.PathElement
	ok := false
	match := func(pe fieldpath.PathElement) {
		if !ok && listItemMatches(item, i, pe) {
			found, ok = pe, true
		}
	}
	s.Members.Iterate(match)
	s.Children.Iterate(match)
	return found, ok
}

// desired returns the desired value of the member (t, pe) of n: a map's
// field (created as an empty map when the live one is a map), or the item
// of a list matching pe.
func (n node) desired(t string, pe fieldpath.PathElement, lv any) (any, bool) {
	switch c := n.d.(type) {
	case map[string]any:
		if v, ok := c[t]; ok {
			return v, true
		}
		if _, isMap := lv.(map[string]any); isMap {
			m := map[string]any{}
			c[t] = m
			return m, true
		}
	case []any:
		if i := itemIndex(c, pe); i >= 0 {
			return c[i], true
		}
	}
	return nil, false
}

// set gives the member its value in the desired object. A list item the
// desired list lacks is not added back: the owner stopped sending it.
func (n node) set(t string, pe fieldpath.PathElement, v any) {
	switch c := n.d.(type) {
	case map[string]any:
		c[t] = v
	case []any:
		if i := itemIndex(c, pe); i >= 0 {
			c[i] = v
		}
	}
}

// remove leaves the member out of the desired object.
func (n node) remove(t string, pe fieldpath.PathElement) {
	switch c := n.d.(type) {
	case map[string]any:
		delete(c, t)
	case []any:
		if pe.FieldName == nil && (pe.Key != nil || pe.Value != nil || pe.Index != nil) {
			if i := itemIndex(c, pe); i >= 0 {
				c[i] = removed
			}
		}
	}
}

// itemIndex returns the index of the item of list d that pe names, -1
// when there is none; removed items name nothing.
func itemIndex(d []any, pe fieldpath.PathElement) int {
	for i, item := range d {
		if item != removed && listItemMatches(item, i, pe) {
			return i
		}
	}
	return -1
}

// compact drops the list items marked removed.
func compact(v any) any {
	switch c := v.(type) {
	case map[string]any:
		for k, x := range c {
			c[k] = compact(x)
		}
	case []any:
		out := c[:0]
		for _, x := range c {
			if x != removed {
				out = append(out, compact(x))
			}
		}
		return out
	}
	return v
}

func strPtr(s string) *string { return &s }
