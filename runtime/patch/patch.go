package patch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options are the per-call knobs of Helper.Patch. The zero value patches what
// changed and owns the conditions that changed.
type Options struct {
	// OwnedConditions are the condition types this controller writes. Only
	// they are written to status.conditions; every other condition on the
	// server, including one a concurrent writer just added, is kept. When
	// empty, the types whose value changed since NewHelper are owned.
	OwnedConditions []string
	// ObservedGeneration sets status.observedGeneration to the generation the
	// object had when NewHelper was called: the generation this reconcile
	// worked on, even if the spec changed meanwhile.
	ObservedGeneration bool
	// FieldOwner is the field manager recorded for the patches. Default:
	// the client's.
	FieldOwner string
}

// maxConflictRetries bounds the re-reads after a conflict. Each retry works on
// a fresh copy, so a writer that keeps winning only delays us.
const maxConflictRetries = 10

// Helper patches an object with what a reconcile changed in it. Create one
// from the object as read at the start of the reconcile, change the object,
// then call Patch (typically deferred).
//
// Patch sends at most two requests when nothing conflicts: a JSON merge patch
// of metadata and spec (only when they changed), and a merge patch of the
// status subresource (only when it changed). Lists that a merge patch would
// replace whole — finalizers and status.conditions — are written under an
// optimistic lock on resourceVersion; on a conflict the object is re-read and
// only this reconcile's changes are laid again onto the fresh copy, so no
// concurrent writer's finalizer or condition is ever lost.
type Helper struct {
	client     client.Client
	before     map[string]any
	generation int64
}

// NewHelper snapshots obj (as read from the API server) for a later Patch.
func NewHelper(obj client.Object, c client.Client) (*Helper, error) {
	before, err := toMap(obj)
	if err != nil {
		return nil, err
	}
	return &Helper{client: c, before: before, generation: obj.GetGeneration()}, nil
}

// Patch writes to the API server what changed in obj since NewHelper, as the
// type comment describes, and updates obj from the server's answers.
//
// An object that disappeared because this patch removed its last finalizer
// is not an error.
func (h *Helper) Patch(ctx context.Context, obj client.Object, opts Options) error {
	after, err := toMap(obj)
	if err != nil {
		return err
	}
	desiredStatus, _, _ := unstructured.NestedMap(after, "status")
	owned := ownedConditions(h.before, after, opts.OwnedConditions)

	sent, gone, err := h.patchMetadataAndSpec(ctx, obj, after, opts)
	if err != nil || gone {
		return err
	}
	// The status patch builds on the freshest copy we hold: the metadata
	// patch's answer if one was sent, else the snapshot. Both carry the
	// resourceVersion to lock on.
	base := h.before
	if sent {
		if base, err = toMap(obj); err != nil {
			return err
		}
	}
	return h.patchStatus(ctx, obj, base, desiredStatus, owned, opts)
}

func (h *Helper) patchMetadataAndSpec(ctx context.Context, obj client.Object, after map[string]any, opts Options) (sent, gone bool, err error) {
	base, desired := stripForSpecPatch(h.before), stripForSpecPatch(after)
	beforeFin, afterFin := finalizers(h.before), finalizers(after)
	finalizersChanged := !slices.Equal(beforeFin, afterFin)
	delete(metaOf(base), "finalizers")
	delete(metaOf(desired), "finalizers")

	mp, err := mergePatch(base, desired)
	if err != nil {
		return false, false, err
	}
	if !finalizersChanged {
		if isEmptyPatch(mp) {
			return false, false, nil
		}
		return true, false, h.send(ctx, obj, mp, false, opts)
	}

	// Finalizers are a list: merge patch replaces it whole, so write it under
	// an optimistic lock, rebuilt from the latest list on every conflict.
	added, removed := diffStrings(beforeFin, afterFin)
	current := h.before
	deleting := obj.GetDeletionTimestamp() != nil
	err = retryOnConflict(ctx, func(attempt int) (bool, error) {
		if attempt > 0 {
			latest, err := h.get(ctx, obj)
			if err != nil {
				return false, err
			}
			current = latest
		}
		fin := applyStringDelta(finalizers(current), added, removed)
		p, err := withMeta(mp, map[string]any{
			"finalizers":      toAnySlice(fin),
			"resourceVersion": metaOf(current)["resourceVersion"],
		})
		if err != nil {
			return false, err
		}
		err = h.send(ctx, obj, p, false, opts)
		if apierrors.IsNotFound(err) && deleting && len(fin) == 0 {
			gone = true
			return true, nil
		}
		if err == nil && len(fin) == 0 && deleting {
			// The API server deletes the object once its last finalizer goes.
			gone = true
		}
		return err == nil, ignoreConflict(err)
	})
	return true, gone, err
}

func (h *Helper) patchStatus(ctx context.Context, obj client.Object, current, desired map[string]any, owned []string, opts Options) error {
	beforeStatus, _, _ := unstructured.NestedMap(h.before, "status")
	beforeRest, desiredRest := withoutConditions(beforeStatus), withoutConditions(desired)
	statusDelta, err := mergePatch(beforeRest, desiredRest)
	if err != nil {
		return err
	}
	desiredConds := conditionsByType(desired)
	return retryOnConflict(ctx, func(attempt int) (bool, error) {
		if attempt > 0 {
			latest, err := h.get(ctx, obj)
			if err != nil {
				return false, err
			}
			current = latest
		}
		curStatus, _, _ := unstructured.NestedMap(current, "status")
		if curStatus == nil {
			curStatus = map[string]any{}
		}
		next, err := applyMergePatch(withoutConditions(curStatus), statusDelta)
		if err != nil {
			return false, err
		}
		if conds := mergeConditions(curStatus["conditions"], desiredConds, owned); len(conds) > 0 {
			next["conditions"] = conds
		}
		if opts.ObservedGeneration {
			next["observedGeneration"] = h.generation
		}
		if jsonEqual(curStatus, next) {
			return true, nil
		}
		sp, err := mergePatch(map[string]any{"status": curStatus}, map[string]any{"status": next})
		if err != nil {
			return false, err
		}
		p, err := withMeta(sp, map[string]any{"resourceVersion": metaOf(current)["resourceVersion"]})
		if err != nil {
			return false, err
		}
		err = h.send(ctx, obj, p, true, opts)
		return err == nil, ignoreConflict(err)
	})
}

func (h *Helper) send(ctx context.Context, obj client.Object, patch []byte, status bool, opts Options) error {
	raw := client.RawPatch(types.MergePatchType, patch)
	if status {
		var o []client.SubResourcePatchOption
		if opts.FieldOwner != "" {
			o = append(o, client.FieldOwner(opts.FieldOwner))
		}
		if err := h.client.Status().Patch(ctx, obj, raw, o...); err != nil {
			return fmt.Errorf("patching status of %s: %w", client.ObjectKeyFromObject(obj), err)
		}
		return nil
	}
	var o []client.PatchOption
	if opts.FieldOwner != "" {
		o = append(o, client.FieldOwner(opts.FieldOwner))
	}
	if err := h.client.Patch(ctx, obj, raw, o...); err != nil {
		return fmt.Errorf("patching %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

func (h *Helper) get(ctx context.Context, obj client.Object) (map[string]any, error) {
	latest, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return nil, fmt.Errorf("copy of %T is not a client.Object", obj)
	}
	if err := h.client.Get(ctx, client.ObjectKeyFromObject(obj), latest); err != nil {
		return nil, fmt.Errorf("re-reading %s after a conflict: %w", client.ObjectKeyFromObject(obj), err)
	}
	return toMap(latest)
}

// retryOnConflict calls fn until it reports done, returns an error, or the
// retries run out. fn returns a nil error for a conflict it wants retried.
func retryOnConflict(ctx context.Context, fn func(attempt int) (done bool, err error)) error {
	backoff := wait.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: maxConflictRetries, Cap: time.Second}
	for attempt := 0; ; attempt++ {
		done, err := fn(attempt)
		if err != nil || done {
			return err
		}
		if attempt+1 >= maxConflictRetries {
			return fmt.Errorf("giving up after %d conflicts: %w", maxConflictRetries, ErrTooManyConflicts)
		}
		t := time.NewTimer(backoff.Step())
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ErrTooManyConflicts is returned when other writers kept changing the object
// between every re-read and patch.
var ErrTooManyConflicts = errors.New("object kept changing")

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func toMap(obj runtime.Object) (map[string]any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return runtime.DeepCopyJSON(u.Object), nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", obj, err)
	}
	return m, nil
}

// stripForSpecPatch returns a copy without status and without the metadata
// the server owns, so that only what a controller may change is compared.
func stripForSpecPatch(m map[string]any) map[string]any {
	c := runtime.DeepCopyJSON(m)
	delete(c, "status")
	if meta, ok := c["metadata"].(map[string]any); ok {
		for _, f := range []string{"resourceVersion", "managedFields", "generation", "creationTimestamp",
			"deletionTimestamp", "deletionGracePeriodSeconds", "uid", "selfLink"} {
			delete(meta, f)
		}
	}
	return c
}

func metaOf(m map[string]any) map[string]any {
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	return meta
}

func finalizers(m map[string]any) []string {
	list, _, _ := unstructured.NestedStringSlice(m, "metadata", "finalizers")
	return list
}

func diffStrings(before, after []string) (added, removed []string) {
	for _, s := range after {
		if !slices.Contains(before, s) {
			added = append(added, s)
		}
	}
	for _, s := range before {
		if !slices.Contains(after, s) {
			removed = append(removed, s)
		}
	}
	return added, removed
}

func applyStringDelta(list, added, removed []string) []string {
	out := slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(removed, s) })
	for _, s := range added {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func toAnySlice(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

func withoutConditions(status map[string]any) map[string]any {
	c := runtime.DeepCopyJSON(status)
	if c == nil {
		c = map[string]any{}
	}
	delete(c, "conditions")
	return c
}

func conditionsByType(status map[string]any) map[string]any {
	out := map[string]any{}
	list, _ := status["conditions"].([]any)
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			if t, ok := m["type"].(string); ok {
				out[t] = m
			}
		}
	}
	return out
}

// ownedConditions returns the declared owned types, or the types whose value
// differs between before and after.
func ownedConditions(before, after map[string]any, declared []string) []string {
	if len(declared) > 0 {
		return declared
	}
	bs, _, _ := unstructured.NestedMap(before, "status")
	as, _, _ := unstructured.NestedMap(after, "status")
	b, a := conditionsByType(bs), conditionsByType(as)
	var owned []string
	for t, c := range a {
		if !reflect.DeepEqual(b[t], c) {
			owned = append(owned, t)
		}
	}
	for t := range b {
		if _, ok := a[t]; !ok {
			owned = append(owned, t)
		}
	}
	slices.Sort(owned)
	return owned
}

// mergeConditions lays the owned conditions of desired over the current list:
// an owned type takes desired's value (or is removed when desired lacks it),
// any other type keeps the current value. Current order is kept; new types go
// at the end.
func mergeConditions(current any, desired map[string]any, owned []string) []any {
	list, _ := current.([]any)
	out := make([]any, 0, len(list)+len(owned))
	placed := map[string]bool{}
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		t, _ := m["type"].(string)
		if !slices.Contains(owned, t) {
			out = append(out, m)
			continue
		}
		if d, ok := desired[t]; ok {
			out = append(out, d)
			placed[t] = true
		}
	}
	for _, t := range owned {
		if d, ok := desired[t]; ok && !placed[t] {
			out = append(out, d)
		}
	}
	return out
}

func mergePatch(from, to map[string]any) ([]byte, error) {
	a, err := json.Marshal(from)
	if err != nil {
		return nil, fmt.Errorf("encoding object: %w", err)
	}
	b, err := json.Marshal(to)
	if err != nil {
		return nil, fmt.Errorf("encoding object: %w", err)
	}
	p, err := jsonpatch.CreateMergePatch(a, b)
	if err != nil {
		return nil, fmt.Errorf("computing merge patch: %w", err)
	}
	return p, nil
}

func applyMergePatch(doc map[string]any, patch []byte) (map[string]any, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding status: %w", err)
	}
	merged, err := jsonpatch.MergePatch(raw, patch)
	if err != nil {
		return nil, fmt.Errorf("applying status changes: %w", err)
	}
	out := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(merged))
	dec.UseNumber() // keep int64 values (generations) exact
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding status: %w", err)
	}
	return out, nil
}

func withMeta(p []byte, meta map[string]any) ([]byte, error) {
	m := map[string]any{}
	if err := json.Unmarshal(p, &m); err != nil {
		return nil, fmt.Errorf("decoding patch: %w", err)
	}
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
	}
	for k, v := range meta {
		md[k] = v
	}
	m["metadata"] = md
	return json.Marshal(m)
}

func isEmptyPatch(p []byte) bool { return string(p) == "{}" }

func jsonEqual(a, b map[string]any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}
