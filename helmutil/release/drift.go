package release

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	rel "helm.sh/helm/v4/pkg/release/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/gitopskit/kit/helmutil/internal/mask"
	"github.com/gitopskit/kit/ssa"
)

// DriftDetectionAnnotation set to "disabled" on an object of a chart
// leaves it out of drift detection and correction.
const DriftDetectionAnnotation = "helmutil.gitopskit.dev/drift-detection"

// driftCandidates are the objects of a revision that drift detection
// looks at: all but those opted out.
func (r *Runner) driftCandidates(cur *rel.Release) ([]*unstructured.Unstructured, error) {
	objs, err := r.objects(cur)
	if err != nil {
		return nil, err
	}
	out := objs[:0]
	for _, o := range objs {
		if o.GetAnnotations()[DriftDetectionAnnotation] == "disabled" {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// detectDrift compares the current revision's objects with the cluster:
// a server-side dry-run apply of each (ssa.Manager.Diff, with the Spec's
// ignore rules), then, for each object that would change, the live
// object's managed fields decide which changed fields count. A field
// another field manager owns (an autoscaler's replicas, a controller's or
// webhook's additions) is not drift unless Drift.IncludeOthersFields says
// so; a field changed by hand (kubectl and its kin, which own it then) or
// still owned by the release is.
func (r *Runner) detectDrift(ctx context.Context, req Request, cur *rel.Release) (*DriftReport, error) {
	objs, err := r.driftCandidates(cur)
	if err != nil {
		return nil, err
	}
	report := &DriftReport{}
	if len(objs) == 0 {
		return report, nil
	}
	byID := make(map[ssa.ObjectID]*unstructured.Unstructured, len(objs))
	for _, o := range objs {
		byID[ssa.IDOf(o)] = o
	}
	m := mask.New(req.Sensitive...)
	diffs, err := r.ssa.Diff(ctx, objs, ssa.DiffOptions{DefaultNamespace: cur.Namespace, IgnoreRules: req.Spec.Drift.Ignore})
	if err != nil {
		return nil, fmt.Errorf("drift detection of release %s: %w", req.Release, m.Err(err))
	}
	for _, d := range diffs {
		switch d.Action {
		case ssa.ActionCreated:
			report.Objects = append(report.Objects, DriftedObject{ID: d.ID, Action: ssa.ActionCreated})
		case ssa.ActionConfigured:
			paths, err := r.driftedPaths(ctx, d, byID[d.ID], req.Spec.Drift.IncludeOthersFields)
			if err != nil {
				return nil, fmt.Errorf("drift detection of %s: %w", d.ID, m.Err(err))
			}
			if len(paths) > 0 {
				report.Objects = append(report.Objects, DriftedObject{ID: d.ID, Action: ssa.ActionConfigured, Paths: paths})
			}
		}
	}
	return report, nil
}

// patchOp is an operation of ssa's RFC 6902 patch.
type patchOp struct {
	Op   string `json:"op"`
	Path string `json:"path"`
}

// driftedPaths returns the JSON pointers a diff changes, without those
// under fields other managers own (unless includeOthers).
func (r *Runner) driftedPaths(ctx context.Context, d ssa.ObjectDiff, obj *unstructured.Unstructured, includeOthers bool) ([]string, error) {
	var ops []patchOp
	if err := json.Unmarshal(d.Patch, &ops); err != nil {
		return nil, fmt.Errorf("reading the diff: %w", err)
	}
	var foreign *fieldpath.Set
	var live map[string]any
	if !includeOthers && obj != nil {
		l, err := r.live(ctx, obj)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, nil // deleted meanwhile: the next check sees it
		}
		if foreign, err = foreignFields(l, r.fieldManager); err != nil {
			return nil, err
		}
		live = l.Object
	}
	var paths []string
	for _, op := range ops {
		tokens, err := ssa.ParseJSONPointer(op.Path)
		if err != nil {
			continue
		}
		if foreign != nil && covered(foreign, live, tokens) {
			continue
		}
		if !slices.Contains(paths, op.Path) {
			paths = append(paths, op.Path)
		}
	}
	return paths, nil
}

// live reads obj from the cluster, nil when it does not exist.
func (r *Runner) live(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return u, nil
}

// foreignFields returns the fields of live that managers other than owner
// own and owner does not, leaving out kubectl's client-side managers
// (ssa.DefaultTakeoverManagers): their changes are edits by hand, drift.
// Entries of subresources (an autoscaler's /scale) count.
func foreignFields(live *unstructured.Unstructured, owner string) (*fieldpath.Set, error) {
	takeover := ssa.DefaultTakeoverManagers()
	mine, others := &fieldpath.Set{}, &fieldpath.Set{}
	for _, e := range live.GetManagedFields() {
		if e.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil, fmt.Errorf("managed fields of %s: %w", e.Manager, err)
		}
		switch {
		case e.Manager == owner && e.Subresource == "":
			mine = mine.Union(s)
		case e.Subresource == "" && slices.ContainsFunc(takeover, func(t ssa.TakeoverManager) bool {
			return t.Name == e.Manager && (t.Operation == "" || t.Operation == string(e.Operation))
		}):
		default:
			others = others.Union(s)
		}
	}
	return others.Difference(mine), nil
}

// covered reports whether the field at the pointer tokens of obj lies in
// set: the field itself, or a field set owns whole (a member with no
// owned children).
func covered(set *fieldpath.Set, obj any, tokens []string) bool {
	cur, s := obj, set
	for i, t := range tokens {
		var pe fieldpath.PathElement
		switch c := cur.(type) {
		case map[string]any:
			name := t
			pe, cur = fieldpath.PathElement{FieldName: &name}, c[t]
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(c) {
				return false
			}
			var ok bool
			if pe, ok = matchItem(s, c[n], n); !ok {
				return false
			}
			cur = c[n]
		default:
			return false
		}
		child, hasChildren := s.Children.Get(pe)
		if s.Members.Has(pe) && (!hasChildren || i == len(tokens)-1) {
			return true
		}
		if !hasChildren {
			return false
		}
		s = child
	}
	return false
}

// matchItem finds the path element of set that names list item n.
func matchItem(set *fieldpath.Set, item any, n int) (fieldpath.PathElement, bool) {
	var found fieldpath.PathElement
	ok := false
	try := func(pe fieldpath.PathElement) {
		if ok {
			return
		}
		switch {
		case pe.Index != nil:
			ok = *pe.Index == n
		case pe.Value != nil:
			ok = value.Equals(value.NewValueInterface(item), *pe.Value)
		case pe.Key != nil:
			m, isMap := item.(map[string]any)
			if !isMap {
				return
			}
			match := true
			for _, f := range *pe.Key {
				v, has := m[f.Name]
				if !has || !value.Equals(value.NewValueInterface(v), f.Value) {
					match = false
					break
				}
			}
			ok = match
		}
		if ok {
			found = pe
		}
	}
	set.Members.Iterate(try)
	set.Children.Iterate(try)
	return found, ok
}

// correctDrift applies again, with ssa, the objects drift detection found
// changed or missing, and only those: not a Helm upgrade, no new revision.
// What is sent is the release's manifest (never a diff, so never a masked
// value), without the fields other managers own (they keep them) and with
// the live value of every ignored field.
func (r *Runner) correctDrift(ctx context.Context, req Request, cur *rel.Release, drift *DriftReport) error {
	if drift == nil || len(drift.Objects) == 0 {
		return nil
	}
	objs, err := r.driftCandidates(cur)
	if err != nil {
		return err
	}
	drifted := map[ssa.ObjectID]bool{}
	for _, d := range drift.Objects {
		drifted[d.ID] = true
	}
	var apply []*unstructured.Unstructured
	for _, o := range objs {
		id := ssa.IDOf(o)
		if !drifted[id] {
			continue
		}
		live, err := r.live(ctx, o)
		if err != nil {
			return &ActionError{Action: ActionCorrectDrift, Release: req.Release, Err: err}
		}
		if live != nil {
			if o, err = r.correction(o, live, req.Spec.Drift); err != nil {
				return &ActionError{Action: ActionCorrectDrift, Release: req.Release, Err: err}
			}
		}
		apply = append(apply, o)
	}
	if len(apply) == 0 {
		return nil
	}
	if _, err := r.ssa.Apply(ctx, apply, ssa.ApplyOptions{DefaultNamespace: cur.Namespace, Timeout: req.Spec.timeout(0)}); err != nil {
		return &ActionError{Action: ActionCorrectDrift, Release: req.Release, Err: mask.New(req.Sensitive...).Err(err)}
	}
	return nil
}

// correction is what to apply to correct obj: without others' fields
// (unless they count as drift) and with ignored fields at their live
// values.
func (r *Runner) correction(obj, live *unstructured.Unstructured, drift Drift) (*unstructured.Unstructured, error) {
	out := obj.DeepCopy()
	if !drift.IncludeOthersFields {
		foreign, err := foreignFields(live, r.fieldManager)
		if err != nil {
			return nil, err
		}
		foreign.Leaves().Iterate(func(p fieldpath.Path) {
			removePath(out.Object, live.Object, p)
		})
	}
	for _, rule := range drift.Ignore {
		if !selects(rule.Selector, obj) {
			continue
		}
		for _, p := range rule.Paths {
			tokens, err := ssa.ParseJSONPointer(p)
			if err != nil {
				return nil, err
			}
			if v, ok := lookup(live.Object, tokens); ok {
				setPointer(out.Object, tokens, v)
			} else {
				removePointer(out.Object, tokens)
			}
		}
	}
	return out, nil
}

// selects is ssa.Selector's matching, for the correction's ignore rules.
func selects(s ssa.Selector, obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	if (s.Group != "" && s.Group != gvk.Group) || (s.Version != "" && s.Version != gvk.Version) ||
		(s.Kind != "" && s.Kind != gvk.Kind) || (s.Name != "" && s.Name != obj.GetName()) ||
		(s.Namespace != "" && s.Namespace != obj.GetNamespace()) {
		return false
	}
	if s.LabelSelector == "" {
		return true
	}
	ls, err := labels.Parse(s.LabelSelector)
	return err == nil && ls.Matches(labels.Set(obj.GetLabels()))
}

// removePath removes from obj the field at managed-fields path p,
// resolving list items as they are in live, then finding the same item in
// obj by merge key or content.
func removePath(obj, live map[string]any, p fieldpath.Path) {
	var o, l any = obj, live
	for i, pe := range p {
		last := i == len(p)-1
		switch {
		case pe.FieldName != nil:
			om, ok1 := o.(map[string]any)
			lm, ok2 := l.(map[string]any)
			if !ok1 || !ok2 {
				return
			}
			if last {
				delete(om, *pe.FieldName)
				return
			}
			o, l = om[*pe.FieldName], lm[*pe.FieldName]
		default:
			ol, ok1 := o.([]any)
			ll, ok2 := l.([]any)
			if !ok1 || !ok2 || last {
				return // a list item is removed by removing its fields
			}
			n := -1
			for j, it := range ll {
				if _, ok := matchItem(setOf(pe), it, j); ok {
					n = j
					break
				}
			}
			if n < 0 {
				return
			}
			j := sameItem(ol, ll[n])
			if j < 0 {
				return
			}
			o, l = ol[j], ll[n]
		}
	}
}

func setOf(pe fieldpath.PathElement) *fieldpath.Set {
	s := &fieldpath.Set{}
	s.Members.Insert(pe)
	return s
}

// sameItem finds in list the item that is item: the same "name" (the
// merge key of most lists) or equal.
func sameItem(list []any, item any) int {
	im, isMap := item.(map[string]any)
	for i, it := range list {
		if isMap {
			if m, ok := it.(map[string]any); ok && im["name"] != nil && m["name"] == im["name"] {
				return i
			}
		}
		if value.Equals(value.NewValueInterface(it), value.NewValueInterface(item)) {
			return i
		}
	}
	return -1
}

func lookup(obj map[string]any, tokens []string) (any, bool) {
	var cur any = obj
	for _, t := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(c) {
				return nil, false
			}
			cur = c[n]
		default:
			return nil, false
		}
	}
	return cur, true
}

func setPointer(obj map[string]any, tokens []string, v any) {
	var cur any = obj
	for i, t := range tokens {
		last := i == len(tokens)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[t] = v
				return
			}
			next, ok := c[t]
			if !ok {
				next = map[string]any{}
				c[t] = next
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(c) {
				return
			}
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			return
		}
	}
}

func removePointer(obj map[string]any, tokens []string) {
	if len(tokens) == 0 {
		return
	}
	parent, ok := lookup(obj, tokens[:len(tokens)-1])
	if !ok {
		return
	}
	if m, ok := parent.(map[string]any); ok {
		delete(m, tokens[len(tokens)-1])
	}
}
