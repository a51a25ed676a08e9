package ssa

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// DiffOptions are the per-call knobs of Diff. The zero value diffs every
// field the owner would set.
type DiffOptions struct {
	// DefaultNamespace is given to namespaced objects that have none.
	DefaultNamespace string
	// IgnoreRules remove fields from both sides of the diff.
	IgnoreRules []IgnoreRule
	// IgnoreOthersFields leaves out the fields that other field managers
	// own and the owner does not (spec.replicas held by an autoscaler
	// through the scale subresource, say). Fields held by the takeover
	// managers (kubectl edit, kubectl patch, client-side apply: see
	// WithTakeoverManagers) still count: Apply takes them back, so they are
	// drift.
	IgnoreOthersFields bool
	// DisableLocalDecision makes Diff dry-run every existing object on the
	// API server, as ApplyOptions.DisableLocalDecision does for Apply.
	DisableLocalDecision bool
}

// ObjectDiff is the difference between an object on the cluster and what
// applying the set would make of it.
type ObjectDiff struct {
	ID ObjectID
	// Action is ActionCreated, ActionConfigured, ActionUnchanged or
	// ActionSkipped (apply policy Ignore or IfNotPresent on an existing
	// object).
	Action Action
	// Unified is a unified diff of the two YAML documents; empty when
	// unchanged. Secret values are masked.
	Unified string
	// Patch is an RFC 6902 JSON patch from the live object to the
	// dry-run result, with the same masking.
	Patch json.RawMessage
}

// Diff computes what Apply would change, with a server-side dry-run per
// object that the local decision (see the package documentation) cannot
// find unchanged without a request: with WithSchemas, an unchanged object
// costs no request beyond the list of its kind and namespace. The ignore
// rules and IgnoreOthersFields are part of that decision, so an object
// whose only differences they leave out is Unchanged without a dry-run. It
// writes nothing. A custom resource whose CRD is in the set but
// not yet on the cluster, or an object whose namespace does not exist yet,
// is reported Created with the object as written (no dry-run is possible).
// Results are in the order of the input set; failures are returned in a
// *SetError next to the results of the other objects.
func (m *Manager) Diff(ctx context.Context, objs []*unstructured.Unstructured, opts DiffOptions) ([]ObjectDiff, error) {
	rules, err := compileIgnoreRules(opts.IgnoreRules)
	if err != nil {
		return nil, err
	}
	items, err := m.prepare(ctx, objs, opts.DefaultNamespace)
	if err != nil {
		return nil, err
	}
	m.stampOwner(items)
	r := m.newRun(items, opts.DisableLocalDecision)
	diffs := make([]ObjectDiff, len(items))
	deps := make([][]int, len(items))
	errs := schedule(ctx, m.concurrency, deps, func(i int) ObjectID { return items[i].id }, func(ctx context.Context, i int) error {
		d, err := m.diffOne(ctx, r, items[i], rules, opts)
		diffs[i] = d
		return err
	})
	out := make([]ObjectDiff, 0, len(items))
	var failed []*ObjectError
	for i, it := range items {
		if errs[i] != nil {
			failed = append(failed, &ObjectError{ID: it.id, Err: errs[i]})
			continue
		}
		out = append(out, diffs[i])
	}
	if len(failed) > 0 {
		return out, &SetError{Op: "diff", Objects: failed}
	}
	return out, nil
}

func (m *Manager) diffOne(ctx context.Context, r *run, it *item, rules []ignoreRule, opts DiffOptions) (ObjectDiff, error) {
	d := ObjectDiff{ID: it.id}
	if it.policy == PolicyIgnore {
		d.Action = ActionSkipped
		return d, nil
	}
	gvk := it.obj.GroupVersionKind()
	var live *unstructured.Unstructured
	if _, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
		if !meta.IsNoMatchError(err) {
			return d, err
		}
	} else if live, err = r.get(ctx, it); err != nil {
		return d, err
	}
	if live != nil && it.policy == PolicyIfNotPresent {
		d.Action = ActionSkipped
		return d, nil
	}
	desired := it.obj
	if live != nil && it.policy == PolicyMerge {
		var err error
		if desired, err = withoutOthersFields(it.obj, live, m.owner.Field); err != nil {
			return d, err
		}
	}
	if live != nil && r.local {
		same, err := m.unchangedForDiff(ctx, r, it, desired, live, rules, opts)
		if err != nil {
			return d, err
		}
		if same {
			d.Action = ActionUnchanged
			return d, nil
		}
	}
	var after *unstructured.Unstructured
	if live == nil {
		dry, err := m.apply(ctx, desired, true, true)
		switch {
		case err == nil:
			after = dry
		case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
			after = desired.DeepCopy()
		default:
			return d, err
		}
	} else {
		dry, err := m.apply(ctx, desired, it.policy != PolicyMerge, true)
		if err != nil {
			return d, err
		}
		after = dry
	}
	before := map[string]any{}
	if live != nil {
		before = cleanForDiff(live)
	}
	afterObj := cleanForDiff(after)
	if opts.IgnoreOthersFields && live != nil {
		others, err := othersFields(live, m.owner.Field, true, m.takeover...)
		if err != nil {
			return d, err
		}
		removeFields(before, others)
		removeFields(afterObj, others)
	}
	for _, r := range rules {
		if r.selector.matches(it.obj, r.labels) {
			for _, p := range r.paths {
				removePointer(before, p)
				removePointer(afterObj, p)
			}
		}
	}
	if it.id.GroupKind() == gkSecret {
		maskSecret(before, afterObj)
	}
	switch {
	case live == nil:
		d.Action = ActionCreated
		before = nil
	case reflect.DeepEqual(before, afterObj):
		d.Action = ActionUnchanged
		return d, nil
	default:
		d.Action = ActionConfigured
	}
	unified, err := unifiedYAML(it.id, before, afterObj)
	if err != nil {
		return d, err
	}
	d.Unified = unified
	patch, err := json.Marshal(jsonPatch(nil, before, afterObj, live == nil))
	if err != nil {
		return d, err
	}
	d.Patch = patch
	return d, nil
}

// unchangedForDiff is the local decision for Diff: whether applying
// desired, without the fields the ignore rules and IgnoreOthersFields
// leave out, would change nothing. When it would not, the dry-run Diff
// would compare equal too: the dry-run result differs from the live
// object only in fields both sides of the comparison leave out.
func (m *Manager) unchangedForDiff(ctx context.Context, r *run, it *item, desired, live *unstructured.Unstructured, rules []ignoreRule, opts DiffOptions) (bool, error) {
	cand, err := ignoreFields(desired, live, rules, m.owner.Field)
	if err != nil {
		return false, err
	}
	if opts.IgnoreOthersFields {
		if cand, err = m.withoutOnlyOthersFields(cand, live); err != nil {
			return false, err
		}
	}
	if it.policy != PolicyMerge {
		if takeover, err := m.needsTakeover(it, live); err != nil || takeover {
			return false, err
		}
	}
	same, why := r.unchanged(ctx, cand, live, it.policy != PolicyMerge)
	if !same {
		logr.FromContextOrDiscard(ctx).V(1).Info("not decided locally, asking the API server", "object", it.id.String(), "reason", why.Error())
	}
	return same, nil
}

// cleanForDiff drops what the server owns and the diff should not show.
func cleanForDiff(u *unstructured.Unstructured) map[string]any {
	c := u.DeepCopy().Object
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c, "metadata", f)
	}
	delete(c, "status")
	return c
}

// Mask values shown in place of Secret data.
const (
	maskSame   = "***"
	maskBefore = "*** (before)"
	maskAfter  = "*** (after)"
)

// maskSecret replaces Secret values so a diff shows which keys changed
// without showing any value.
func maskSecret(before, after map[string]any) {
	for _, f := range []string{"data", "stringData"} {
		b, _ := before[f].(map[string]any)
		a, _ := after[f].(map[string]any)
		for k, av := range a {
			bv, ok := b[k]
			switch {
			case !ok:
				a[k] = maskSame
			case reflect.DeepEqual(av, bv):
				a[k], b[k] = maskSame, maskSame
			default:
				a[k], b[k] = maskAfter, maskBefore
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				b[k] = maskSame
			}
		}
	}
	for _, m := range []map[string]any{before, after} {
		if ann, ok, _ := unstructured.NestedMap(m, "metadata", "annotations"); ok {
			if _, has := ann[LastAppliedAnnotation]; has {
				ann[LastAppliedAnnotation] = maskSame
				_ = unstructured.SetNestedMap(m, ann, "metadata", "annotations")
			}
		}
	}
}

func unifiedYAML(id ObjectID, before, after map[string]any) (string, error) {
	var a, b []byte
	var err error
	if before != nil {
		if a, err = yaml.Marshal(before); err != nil {
			return "", err
		}
	}
	if b, err = yaml.Marshal(after); err != nil {
		return "", err
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(a)),
		B:        difflib.SplitLines(string(b)),
		FromFile: "live/" + id.String(),
		ToFile:   "merged/" + id.String(),
		Context:  3,
	})
}

// patchOp is one RFC 6902 operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// jsonPatch returns the operations that turn a into b. Maps are diffed by
// key; lists element by element, with trailing additions and removals.
func jsonPatch(path []string, a, b any, whole bool) []patchOp {
	ptr := func(p []string) string {
		var s strings.Builder
		for _, t := range p {
			s.WriteByte('/')
			s.WriteString(escapePointer(t))
		}
		return s.String()
	}
	if whole {
		return []patchOp{{Op: "add", Path: ptr(path), Value: b}}
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		var ops []patchOp
		for _, k := range sortedKeys(av) {
			if _, ok := bv[k]; !ok {
				ops = append(ops, patchOp{Op: "remove", Path: ptr(append(path, k))})
			}
		}
		for _, k := range sortedKeys(bv) {
			child := append(append([]string(nil), path...), k)
			if old, ok := av[k]; ok {
				ops = append(ops, jsonPatch(child, old, bv[k], false)...)
			} else {
				ops = append(ops, patchOp{Op: "add", Path: ptr(child), Value: bv[k]})
			}
		}
		return ops
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		var ops []patchOp
		n := min(len(av), len(bv))
		for i := 0; i < n; i++ {
			ops = append(ops, jsonPatch(append(append([]string(nil), path...), strconv.Itoa(i)), av[i], bv[i], false)...)
		}
		for i := len(av) - 1; i >= n; i-- {
			ops = append(ops, patchOp{Op: "remove", Path: ptr(append(append([]string(nil), path...), strconv.Itoa(i)))})
		}
		for i := n; i < len(bv); i++ {
			ops = append(ops, patchOp{Op: "add", Path: ptr(append(append([]string(nil), path...), "-")), Value: bv[i]})
		}
		return ops
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []patchOp{{Op: "replace", Path: ptr(path), Value: b}}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
