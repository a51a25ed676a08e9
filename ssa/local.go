package ssa

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// run is what one Apply or Diff shares between its objects: the live
// objects it read and, for the local decision, the server's schemas as
// this call sees them.
type run struct {
	m     *Manager
	live  *liveObjects
	local bool // the local decision may be used

	viewOnce sync.Once
	view     *schemaView
}

func (m *Manager) newRun(items []*item, disableLocal bool) *run {
	r := &run{m: m, local: !disableLocal && m.schemas != nil}
	if !disableLocal {
		r.live = newLiveObjects(m, items)
	}
	return r
}

// get returns the live object of it (nil when absent): from the run's
// lists, or with a GET when the local decision is disabled (the behaviour
// before it existed). The object is shared; callers must not modify it.
func (r *run) get(ctx context.Context, it *item) (*unstructured.Unstructured, error) {
	if r.live == nil {
		return r.m.get(ctx, it.obj.GroupVersionKind(), it.id)
	}
	return r.live.get(ctx, it)
}

// schemas returns the run's view of the server's schemas, read once per
// run; nil when the local decision is off or the view cannot be read.
func (r *run) schemas(ctx context.Context) *schemaView {
	if !r.local {
		return nil
	}
	r.viewOnce.Do(func() {
		v, err := r.m.schemas.view(ctx)
		if err != nil {
			logr.FromContextOrDiscard(ctx).V(1).Info("no local decision: every object is asked of the API server", "error", err.Error())
			return
		}
		r.view = v
	})
	return r.view
}

// unchanged reports whether applying desired (with force or not) to live
// would change nothing on the server, decided without a request. It
// answers true only when sure; every doubt returns false with the reason,
// and the caller asks the API server with a dry-run.
func (r *run) unchanged(ctx context.Context, desired, live *unstructured.Unstructured, force bool) (bool, error) {
	v := r.schemas(ctx)
	if v == nil {
		return false, errors.New("no schemas")
	}
	gvk := desired.GroupVersionKind()
	mapping, err := r.m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false, err
	}
	if err := v.admits(mapping.Resource.GroupResource(), live.GetLabels(), desired.GetLabels()); err != nil {
		return false, err
	}
	g, err := v.schema(ctx, gvk.GroupVersion())
	if err != nil {
		return false, err
	}
	key, err := decisionKey(g.url, desired, live, r.m.owner.Field, force)
	if err != nil {
		return false, err
	}
	if why, ok := r.m.schemas.decisions.get(key); ok {
		if why == "" {
			return true, nil
		}
		return false, errors.New(why + " (decided before)")
	}
	same, why := decide(g, desired, live, r.m.owner.Field, force)
	msg := ""
	if !same {
		msg = truncate(why.Error())
	}
	r.m.schemas.decisions.put(key, msg)
	return same, why
}

// decide runs the API server's apply of desired to live for the field
// manager, with the server's schema and its own code
// (k8s.io/apimachinery/pkg/util/managedfields), and reports whether the
// result equals live: the same values, the same managed fields. It refuses
// (false and why) whatever the server might handle differently:
//   - a kind the schema does not know, or an object that does not fit it;
//   - a value under a part of the schema that types nothing (an object
//     with x-kubernetes-preserve-unknown-fields, say);
//   - a null value (nullable fields are published differently from how
//     the server merges them);
//   - a field the object sets that another field manager owns too;
//   - a conflict, or managed fields recorded in another API version.
//
// Values the server would normalise (a quantity written 0.5 where 500m is
// stored, an integer written as a string) differ from the live ones, so
// the merge changes them and the answer is false: only the API server can
// tell whether they are the same.
func decide(g *gvSchema, desired, live *unstructured.Unstructured, manager string, force bool) (bool, error) {
	desired = desired.DeepCopy()
	if ts, ok := desired.Object["metadata"].(map[string]any); ok {
		if v, has := ts["creationTimestamp"]; has && v == nil {
			delete(ts, "creationTimestamp") // common in generated YAML; ignored by the server
		}
	}
	if err := wireNumbers(desired.Object); err != nil {
		return false, err
	}
	tv, err := g.conv.ObjectToTyped(desired)
	if err != nil {
		return false, fmt.Errorf("does not fit the schema: %w", err)
	}
	if err := typedEverywhere(tv); err != nil {
		return false, err
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		return false, err
	}
	_, others, err := ownership(live, manager)
	if err != nil {
		return false, err
	}
	if shared := set.Leaves().Intersection(others.Leaves()); !shared.Empty() {
		return false, fmt.Errorf("sets fields another field manager owns: %s", truncate(shared.String()))
	}
	fm, err := g.fieldManager(desired.GroupVersionKind())
	if err != nil {
		return false, err
	}
	out, err := fm.Apply(live.DeepCopy(), desired, manager, force)
	if err != nil {
		return false, err
	}
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		return false, fmt.Errorf("unexpected %T from the field manager", out)
	}
	if !sameObject(u, live) {
		return false, errors.New("applying it changes the object")
	}
	return true, nil
}

// wireNumbers turns the whole numbers of v held as float64 (what a YAML or
// JSON decoder without UseNumber yields) into the int64 the API server
// decodes from the wire: encoding/json writes such a float as an integer.
// A whole float too large for an int64 is refused: comparing it with an
// integer would be lossy.
func wireNumbers(v any) error {
	switch c := v.(type) {
	case map[string]any:
		for k, x := range c {
			if f, ok := x.(float64); ok {
				n, err := wholeFloat(f)
				if err != nil {
					return err
				}
				if n != nil {
					c[k] = *n
				}
				continue
			}
			if err := wireNumbers(x); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range c {
			if f, ok := x.(float64); ok {
				n, err := wholeFloat(f)
				if err != nil {
					return err
				}
				if n != nil {
					c[i] = *n
				}
				continue
			}
			if err := wireNumbers(x); err != nil {
				return err
			}
		}
	}
	return nil
}

// wholeFloat returns f as an int64 when it is a whole number, nil when it
// is not.
func wholeFloat(f float64) (*int64, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return nil, nil
	}
	if math.Abs(f) >= 1<<63 {
		return nil, fmt.Errorf("whole number %g too large to compare", f)
	}
	n := int64(f)
	return &n, nil
}

// typedEverywhere returns an error when a map or list of tv lies under a
// part of the schema that does not type it (deduced: x-kubernetes-
// preserve-unknown-fields or a schemaless object), or when a value is
// null.
func typedEverywhere(tv *typed.TypedValue) error {
	return walkTyped(tv.Schema(), tv.TypeRef(), tv.AsValue(), nil)
}

const deducedType = "__untyped_deduced_"

func walkTyped(s *smdschema.Schema, tr smdschema.TypeRef, v value.Value, path fieldpath.Path) error {
	if v == nil || v.IsNull() {
		return fmt.Errorf("null value at %s", path)
	}
	if !v.IsMap() && !v.IsList() {
		return nil // a scalar is compared as it is, whatever its type
	}
	if tr.NamedType != nil && *tr.NamedType == deducedType {
		return fmt.Errorf("no schema types %s", path)
	}
	atom, ok := s.Resolve(tr)
	if !ok {
		return fmt.Errorf("no schema types %s", path)
	}
	if atom.Scalar != nil {
		// "any type" (x-kubernetes-preserve-unknown-fields, an
		// int-or-string, a raw extension) holding a map or a list
		return fmt.Errorf("no schema types %s", path)
	}
	switch {
	case v.IsMap() && atom.Map != nil:
		var err error
		v.AsMap().Iterate(func(k string, fv value.Value) bool {
			ft := atom.Map.ElementType
			if f, ok := atom.Map.FindField(k); ok {
				ft = f.Type
			}
			err = walkTyped(s, ft, fv, append(path, fieldpath.PathElement{FieldName: &k}))
			return err == nil
		})
		return err
	case v.IsList() && atom.List != nil:
		l := v.AsList()
		for i := 0; i < l.Length(); i++ {
			if err := walkTyped(s, atom.List.ElementType, l.At(i), append(path, fieldpath.PathElement{Index: &i})); err != nil {
				return err
			}
		}
	}
	return nil
}

// groupVersionPath returns a GroupVersion's OpenAPI v3 index path.
func groupVersionPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}
