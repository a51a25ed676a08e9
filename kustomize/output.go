package kustomize

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resmap"
	yaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitopskit/kit/kustomize/internal/subst"
)

// finish substitutes variables, converts to unstructured and checks for
// duplicates, keeping kustomize's order.
func finish(m resmap.ResMap, opts Options) ([]*unstructured.Unstructured, error) {
	var lookup subst.Lookup
	if s := opts.Substitute; s != nil {
		vars := s.Vars
		lookup = func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	}
	out := make([]*unstructured.Unstructured, 0, m.Size())
	seen := make(map[string]int, m.Size())
	var dups []string
	for _, r := range m.Resources() {
		id := objectID(r)
		changed := false
		if lookup != nil && r.GetAnnotations()[SubstituteAnnotation] != Disabled {
			var err error
			changed, err = substituteNode(r.YNode(), lookup, opts.Substitute.Strict, false)
			if err != nil {
				var ue *subst.UndefinedError
				if errors.As(err, &ue) {
					return nil, &VariableError{Object: id, Variable: ue.Name}
				}
				return nil, &VariableError{Object: id, Reason: err.Error()}
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
		key := gvk.Group + "/" + gvk.Kind + "/" + obj.GetNamespace() + "/" + obj.GetName()
		if n := seen[key]; n == 1 {
			dups = append(dups, key)
		}
		seen[key]++
		out = append(out, obj)
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		return nil, &DuplicateError{Objects: dups}
	}
	return out, nil
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

// substituteNode expands references in every scalar below n. A plain
// (unquoted) scalar that changed has its type re-resolved, so that
// `replicas: ${count}` becomes a number as it would with textual
// substitution, while a quoted "${count}" stays a string. Mapping keys stay
// strings. Values can never add structure: a substituted value is one
// scalar, whatever it contains.
func substituteNode(n *yaml.Node, lookup subst.Lookup, strict, isKey bool) (bool, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !subst.Contains(n.Value) {
			return false, nil
		}
		v, changed, err := subst.Expand(n.Value, lookup, strict)
		if err != nil || !changed {
			return false, err
		}
		n.Value = v
		if isKey {
			n.Tag = "!!str"
		} else if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 &&
			(n.Tag == "!!str" || n.Tag == "") {
			n.Tag = ""
		}
		return true, nil
	case yaml.MappingNode:
		any := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			c1, err := substituteNode(n.Content[i], lookup, strict, true)
			if err != nil {
				return false, err
			}
			c2, err := substituteNode(n.Content[i+1], lookup, strict, false)
			if err != nil {
				return false, err
			}
			any = any || c1 || c2
		}
		return any, nil
	case yaml.SequenceNode, yaml.DocumentNode:
		any := false
		for _, c := range n.Content {
			ch, err := substituteNode(c, lookup, strict, false)
			if err != nil {
				return false, err
			}
			any = any || ch
		}
		return any, nil
	}
	return false, nil
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
				return nil, err
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
					return nil, fmt.Errorf("%q cannot be represented in JSON", n.Value)
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
