package conditions

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Unstructured adapts an unstructured object so the functions of this package
// read and write its status.conditions.
//
// GetConditions returns nil when status.conditions is absent or is not a list
// of conditions; SetConditions writes the list back (removing the field for an
// empty list).
func Unstructured(u *unstructured.Unstructured) Setter { return unstructuredSetter{u} }

type unstructuredSetter struct{ u *unstructured.Unstructured }

func (s unstructuredSetter) GetGeneration() int64 { return s.u.GetGeneration() }

func (s unstructuredSetter) GetConditions() []metav1.Condition {
	raw, found, err := unstructured.NestedSlice(s.u.Object, "status", "conditions")
	if !found || err != nil {
		return nil
	}
	list := make([]metav1.Condition, 0, len(raw))
	for _, item := range raw {
		m, ok := item.(map[string]any)
		if !ok {
			return nil
		}
		var c metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c); err != nil {
			return nil
		}
		list = append(list, c)
	}
	return list
}

func (s unstructuredSetter) SetConditions(list []metav1.Condition) {
	if len(list) == 0 {
		unstructured.RemoveNestedField(s.u.Object, "status", "conditions")
		return
	}
	raw := make([]any, 0, len(list))
	for i := range list {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&list[i])
		if err != nil {
			// metav1.Condition always converts; this is unreachable.
			panic(err)
		}
		raw = append(raw, m)
	}
	if err := unstructured.SetNestedSlice(s.u.Object, raw, "status", "conditions"); err != nil {
		// status is not a map: replace it, as a status writer would.
		s.u.Object["status"] = map[string]any{"conditions": raw}
	}
}
