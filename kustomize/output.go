package kustomize

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	yaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitopskit/kit/kustomize/internal/subst"
)

// finish substitutes variables, converts to unstructured, sets the common
// metadata and checks for duplicates, keeping kustomize's order. maxBytes
// bounds the text substitution may produce (negative: unbounded).
func finish(ctx context.Context, m resmap.ResMap, sub *Substitution, ov Overlay, maxBytes int64) ([]*unstructured.Unstructured, error) {
	var env *subst.Env
	if sub != nil {
		vars := sub.Vars
		env = &subst.Env{Lookup: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }, Strict: sub.Strict}
		if maxBytes >= 0 {
			budget := maxBytes
			env.Budget = &budget
		}
	}
	out := make([]*unstructured.Unstructured, 0, m.Size())
	type entry struct {
		written string // identity before substitution
		changed bool
	}
	seen := make(map[string][]entry, m.Size())
	var dups []string
	for _, r := range m.Resources() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := objectID(r)
		written := identity(r.GetGvk().Group, r.GetKind(), r.GetNamespace(), r.GetName())
		changed := false
		if env != nil && r.GetAnnotations()[SubstituteAnnotation] != Disabled {
			var err error
			changed, err = substituteObject(r.YNode(), env, id)
			if err != nil {
				return nil, err
			}
		}
		obj, err := toUnstructured(r.YNode())
		if err != nil {
			if changed {
				return nil, &VariableError{Object: id, Reason: "the result is not a valid object"}
			}
			return nil, fmt.Errorf("converting %s: %w", id, err)
		}
		if reason := invalid(obj); reason != "" {
			if changed {
				return nil, &VariableError{Object: id, Reason: reason}
			}
			return nil, fmt.Errorf("invalid object %s: %s", id, reason)
		}
		gvk := obj.GroupVersionKind()
		key := identity(gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName())
		if len(seen[key]) == 1 {
			dups = append(dups, key)
		}
		seen[key] = append(seen[key], entry{written, changed})
		out = append(out, obj)
	}
	if len(dups) > 0 {
		objs := make([]string, 0, len(dups))
		for _, key := range dups {
			es := seen[key]
			subst := false
			for _, e := range es {
				subst = subst || e.changed
			}
			if !subst {
				objs = append(objs, key)
				continue
			}
			// Substitution made them equal: name them as written, so the
			// substituted identity (a value) never appears.
			names := make([]string, len(es))
			for i, e := range es {
				names[i] = e.written
			}
			objs = append(objs, strings.Join(names, " = "))
		}
		sort.Strings(objs)
		return nil, &DuplicateError{Objects: objs}
	}
	setCommonMetadata(out, ov.Labels, ov.Annotations)
	return out, nil
}

func identity(group, kind, namespace, name string) string {
	return group + "/" + kind + "/" + namespace + "/" + name
}

// objectID names a resource as kind/namespace/name for errors.
func objectID(r *resource.Resource) string {
	if ns := r.GetNamespace(); ns != "" {
		return r.GetKind() + "/" + ns + "/" + r.GetName()
	}
	return r.GetKind() + "/" + r.GetName()
}

// setCommonMetadata sets labels and annotations on every object, as Flux's
// commonMetadata: after substitution, overriding existing keys, metadata
// only.
func setCommonMetadata(objs []*unstructured.Unstructured, labels, annotations map[string]string) {
	if len(labels) == 0 && len(annotations) == 0 {
		return
	}
	for _, o := range objs {
		if len(labels) > 0 {
			l := o.GetLabels()
			if l == nil {
				l = make(map[string]string, len(labels))
			}
			maps.Copy(l, labels)
			o.SetLabels(l)
		}
		if len(annotations) > 0 {
			a := o.GetAnnotations()
			if a == nil {
				a = make(map[string]string, len(annotations))
			}
			maps.Copy(a, annotations)
			o.SetAnnotations(a)
		}
	}
}

func invalid(u *unstructured.Unstructured) string {
	switch {
	case u.GetAPIVersion() == "":
		return "apiVersion is missing or not a string"
	case u.GetKind() == "":
		return "kind is missing or not a string"
	case u.GetName() == "" && u.GetGenerateName() == "":
		return "metadata.name is missing or not a string"
	}
	if _, ok := u.Object["metadata"].(map[string]any); !ok {
		return "metadata is not a mapping"
	}
	return ""
}

// substituteObject expands the references in every string below n (keys
// included) and turns failures into a *VariableError naming the object,
// the field and its line.
func substituteObject(n *yaml.Node, env *subst.Env, id string) (bool, error) {
	changed, failed, err := substituteNode(n, env, false)
	if err == nil {
		return changed, nil
	}
	ve := &VariableError{Object: id}
	if failed != nil {
		ve.Field, ve.Line = fieldPath(n, failed), failed.Line
	}
	var ue *subst.UndefinedError
	var xe *subst.Error
	switch {
	case errors.As(err, &ue):
		ve.Variable = ue.Name
	case errors.As(err, &xe):
		ve.Variable, ve.Reason = xe.Name, xe.Reason
	case errors.Is(err, subst.ErrBudget):
		ve.Reason = "substitution produces more text than the read limit (Options.MaxBytes) allows"
		ve.Err = ErrLimit
	default:
		ve.Reason = "substitution failed"
	}
	return false, ve
}

// substituteNode expands references in every scalar below n. A plain
// (unquoted) scalar that changed has its type re-resolved, so that
// `replicas: ${count}` becomes a number as it would with textual
// substitution, while a quoted "${count}" stays a string. Mapping keys stay
// strings. Values can never add structure: a substituted value is one
// scalar, whatever it contains.
//
// In a mapping every value is done before the keys, so when a value fails
// the keys above it are still as written: the field path in the error
// never holds a substituted key. failed is the node that failed.
func substituteNode(n *yaml.Node, env *subst.Env, isKey bool) (changed bool, failed *yaml.Node, err error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !subst.MayContain(n.Value) {
			return false, nil, nil
		}
		v, ch, err := subst.Expand(n.Value, env)
		if err != nil {
			return false, n, err
		}
		if !ch {
			return false, nil, nil
		}
		n.Value = v
		if isKey {
			n.Tag = "!!str"
		} else if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 &&
			(n.Tag == "!!str" || n.Tag == "") {
			n.Tag = ""
		}
		return true, nil, nil
	case yaml.MappingNode:
		any := false
		for _, keys := range []bool{false, true} {
			for i := 0; i+1 < len(n.Content); i += 2 {
				c := n.Content[i+1]
				if keys {
					c = n.Content[i]
				}
				ch, f, err := substituteNode(c, env, keys)
				if err != nil {
					return false, f, err
				}
				any = any || ch
			}
		}
		return any, nil, nil
	case yaml.SequenceNode, yaml.DocumentNode:
		any := false
		for _, c := range n.Content {
			ch, f, err := substituteNode(c, env, false)
			if err != nil {
				return false, f, err
			}
			any = any || ch
		}
		return any, nil, nil
	}
	return false, nil, nil
}

// fieldPath returns the path from root to target as
// spec.containers[0].image; a key is shown as "(key)". Keys are the text as
// written (see substituteNode).
func fieldPath(root, target *yaml.Node) string {
	var parts []string
	var find func(n *yaml.Node, depth int) bool
	find = func(n *yaml.Node, depth int) bool {
		if n == target {
			return true
		}
		if depth > 1000 {
			return false
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k == target {
					parts = append(parts, "("+k.Value+")")
					return true
				}
				parts = append(parts, "."+k.Value)
				if find(n.Content[i+1], depth+1) {
					return true
				}
				parts = parts[:len(parts)-1]
			}
		case yaml.SequenceNode, yaml.DocumentNode:
			for i, c := range n.Content {
				if n.Kind == yaml.SequenceNode {
					parts = append(parts, fmt.Sprintf("[%d]", i))
				}
				if find(c, depth+1) {
					return true
				}
				if n.Kind == yaml.SequenceNode {
					parts = parts[:len(parts)-1]
				}
			}
		}
		return false
	}
	if !find(root, 0) {
		return ""
	}
	return strings.TrimPrefix(strings.Join(parts, ""), ".")
}

var errUnsupportedYAML = errors.New("unsupported YAML construct")

// toUnstructured converts a kyaml node straight into the map types
// unstructured expects (int64, float64, bool, string, nil, []any,
// map[string]any), without serialising to YAML and JSON and back.
func toUnstructured(n *yaml.Node) (*unstructured.Unstructured, error) {
	v, err := toValue(n, 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a mapping")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func toValue(n *yaml.Node, depth int) (any, error) {
	if depth > 1000 {
		return nil, errors.New("nesting too deep")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, errUnsupportedYAML
		}
		return toValue(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return nil, errUnsupportedYAML
			}
			v, err := toValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := toValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				// The decoder quotes the scalar: say where, not what.
				return nil, fmt.Errorf("the %s scalar at line %d cannot be decoded", n.ShortTag(), n.Line)
			}
			switch x := v.(type) {
			case int:
				return int64(x), nil
			case int64:
				return x, nil
			case uint64:
				if x <= math.MaxInt64 {
					return int64(x), nil
				}
				return float64(x), nil
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("the number at line %d cannot be represented in JSON", n.Line)
				}
				return x, nil
			case bool:
				return x, nil
			}
			return n.Value, nil
		default:
			return n.Value, nil
		}
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errUnsupportedYAML
		}
		return toValue(n.Alias, depth+1)
	}
	return nil, errUnsupportedYAML
}
