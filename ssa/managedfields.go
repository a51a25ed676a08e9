package ssa

import (
	"bytes"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

func matchesTakeover(e metav1.ManagedFieldsEntry, managers []TakeoverManager) bool {
	if e.Subresource != "" {
		return false
	}
	for _, t := range managers {
		if e.Manager == t.Name && (t.Operation == "" || string(e.Operation) == t.Operation) {
			return true
		}
	}
	return false
}

func parseFields(e metav1.ManagedFieldsEntry) (*fieldpath.Set, error) {
	s := &fieldpath.Set{}
	if e.FieldsV1 == nil || len(e.FieldsV1.Raw) == 0 {
		return s, nil
	}
	if err := s.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
		return nil, fmt.Errorf("parsing managed fields of %q: %w", e.Manager, err)
	}
	return s, nil
}

// takeoverManagedFields returns the managedFields with every entry of a
// takeover manager folded into the owner's Apply entry (the union of the
// field sets), and whether anything was taken over.
func takeoverManagedFields(entries []metav1.ManagedFieldsEntry, managers []TakeoverManager, owner, apiVersion string) ([]metav1.ManagedFieldsEntry, bool, error) {
	union := &fieldpath.Set{}
	var kept []metav1.ManagedFieldsEntry
	found := false
	var ownerEntry *metav1.ManagedFieldsEntry
	for i, e := range entries {
		switch {
		case matchesTakeover(e, managers):
			found = true
		case e.Manager == owner && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "":
			ownerEntry = &entries[i]
		default:
			kept = append(kept, e)
			continue
		}
		s, err := parseFields(e)
		if err != nil {
			return nil, false, err
		}
		union = union.Union(s)
	}
	if !found {
		return entries, false, nil
	}
	raw, err := union.ToJSON()
	if err != nil {
		return nil, false, fmt.Errorf("encoding managed fields: %w", err)
	}
	now := metav1.Now()
	e := metav1.ManagedFieldsEntry{
		Manager:    owner,
		Operation:  metav1.ManagedFieldsOperationApply,
		APIVersion: apiVersion,
		Time:       &now,
		FieldsType: "FieldsV1",
		FieldsV1:   &metav1.FieldsV1{Raw: raw},
	}
	if ownerEntry != nil {
		e.APIVersion = ownerEntry.APIVersion
	}
	return append(kept, e), true, nil
}

// othersFields returns the fields that managers other than owner hold on
// live, through the object or a subresource (an autoscaler's replicas come
// through the scale subresource); with exceptOwner, fields the owner holds
// too are left out. The managers in skip are not counted as others.
func othersFields(live *unstructured.Unstructured, owner string, exceptOwner bool, skip ...TakeoverManager) (*fieldpath.Set, error) {
	others, mine := &fieldpath.Set{}, &fieldpath.Set{}
	for _, e := range live.GetManagedFields() {
		if e.Manager != owner && matchesTakeover(e, skip) {
			continue
		}
		s, err := parseFields(e)
		if err != nil {
			return nil, err
		}
		if e.Manager == owner {
			mine = mine.Union(s)
		} else {
			others = others.Union(s)
		}
	}
	if exceptOwner {
		others = others.Difference(mine)
	}
	return others, nil
}

// withoutOthersFields returns a copy of obj without the leaf fields that
// managers other than owner hold on the live object (shared ones included),
// so a non-forced apply keeps their values instead of conflicting.
func withoutOthersFields(obj, live *unstructured.Unstructured, owner string) (*unstructured.Unstructured, error) {
	others, err := othersFields(live, owner, false)
	if err != nil {
		return nil, err
	}
	out := obj.DeepCopy()
	removeFields(out.Object, others)
	return out, nil
}

// removeFields removes the leaf fields of set from obj, never the
// identifying apiVersion, kind, metadata.name and metadata.namespace.
func removeFields(obj map[string]any, set *fieldpath.Set) {
	if set.Empty() {
		return
	}
	set.Leaves().Iterate(func(p fieldpath.Path) {
		if len(p) == 0 || p[0].FieldName == nil {
			return
		}
		switch *p[0].FieldName {
		case "apiVersion", "kind":
			return
		case "metadata":
			if len(p) == 2 && p[1].FieldName != nil && (*p[1].FieldName == "name" || *p[1].FieldName == "namespace") {
				return
			}
		}
		removePath(obj, p)
	})
}

// removePath removes the field or list item at p from v and returns v.
func removePath(v any, p fieldpath.Path) any {
	if len(p) == 0 {
		return v
	}
	pe := p[0]
	switch t := v.(type) {
	case map[string]any:
		if pe.FieldName == nil {
			return v
		}
		child, ok := t[*pe.FieldName]
		if !ok {
			return v
		}
		if len(p) == 1 {
			delete(t, *pe.FieldName)
		} else {
			t[*pe.FieldName] = removePath(child, p[1:])
		}
		return t
	case []any:
		for i, item := range t {
			if !listItemMatches(item, i, pe) {
				continue
			}
			if len(p) == 1 {
				return append(t[:i:i], t[i+1:]...)
			}
			t[i] = removePath(item, p[1:])
			return t
		}
	}
	return v
}

func listItemMatches(item any, index int, pe fieldpath.PathElement) bool {
	switch {
	case pe.Index != nil:
		return *pe.Index == index
	case pe.Value != nil:
		return fmt.Sprint(item) == fmt.Sprint((*pe.Value).Unstructured())
	case pe.Key != nil:
		m, ok := item.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range *pe.Key {
			if fmt.Sprint(m[f.Name]) != fmt.Sprint(f.Value.Unstructured()) {
				return false
			}
		}
		return true
	}
	return false
}

// escapePointer escapes one JSON-pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
