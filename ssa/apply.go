package ssa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ApplyOptions are the per-call knobs of Apply. The zero value is the sane
// default.
type ApplyOptions struct {
	// DefaultNamespace is given to namespaced objects that have none. When
	// empty, such objects are an error.
	DefaultNamespace string
	// Recreate allows deleting and re-creating any object whose update
	// changes an immutable field. Without it only objects annotated
	// ssa.gitopskit.dev/recreate: enabled are recreated; others fail.
	Recreate bool
	// WaitForDependencies makes an object with a depends-on annotation wait
	// until its dependencies are Current (kstatus), not only applied, as
	// cli-utils does.
	WaitForDependencies bool
	// Timeout bounds each wait inside Apply: a CRD becoming Established and
	// its kind served, a recreated object's deletion, a dependency becoming
	// Current. Default one minute.
	Timeout time.Duration
	// IgnoreRules name fields Apply leaves alone on objects that exist
	// (Flux's driftIgnoreRules): a field a rule matches is neither applied
	// nor counted as a change, so another field manager (an autoscaler, a
	// webhook) may own it. A new object is created with them, as the
	// manifest says. See IgnoreRule for what is sent instead.
	IgnoreRules []IgnoreRule
	// IgnoreOthersFields leaves out of the apply, on an existing object,
	// the fields other field managers own and the owner does not (an
	// autoscaler's replicas, another controller's value), as
	// DiffOptions.IgnoreOthersFields leaves them out of a diff: correcting
	// drift then does not take them back. The takeover managers' fields
	// (kubectl edit, ...) are still taken back. Unlike the Merge policy
	// the apply is forced, so the owner's own fields win conflicts.
	IgnoreOthersFields bool
	// DisableLocalDecision makes Apply ask the API server about every
	// object, as it did before the local decision: a GET per object and a
	// server-side dry-run per existing one, so an unchanged object costs
	// two requests (what Flux's ssa package costs). For a cautious caller
	// and for comparisons; the answers are the same.
	DisableLocalDecision bool
	// DisablePreflight writes each object that may change without the
	// whole-set validation first: one request (the write) instead of a
	// dry-run and a write, the write's answer telling whether the object
	// changed. An object the local decision finds unchanged still costs
	// nothing. The price is atomicity: an object the API server rejects
	// fails the Apply after the objects written before it (the ChangeSet
	// lists what was written), where by default a rejection writes
	// nothing. For callers that prefer half the requests on every change
	// to an all-or-nothing set.
	DisablePreflight bool
}

func (o ApplyOptions) timeout() time.Duration {
	if o.Timeout <= 0 {
		return time.Minute
	}
	return o.Timeout
}

// Apply applies a set of objects with server-side apply, in dependency order
// and concurrently where no dependency orders them (see the package
// documentation). The input objects are not modified.
//
// A set that fails validation (a malformed object, an unknown kind, a
// namespace on a cluster-scoped object, a bad depends-on, a cycle, a bad
// ignore rule) is rejected before any request.
//
// Apply then reads the live objects (one list per kind and namespace) and
// has the API server validate the whole set before it writes anything:
// every object that would change is dry-run (at most WithConcurrency at a
// time, without waiting for dependencies), so schemas, CEL rules, admission
// webhooks, a missing namespace or missing permissions are checked for all
// objects first. An object the Manager finds unchanged locally (see "The
// local decision" in the package documentation) is not sent at all. When
// the server rejects any object, nothing is written: Apply returns a
// *SetError naming every rejected object and why. An immutable-field
// change is not a rejection when the object may be recreated. Objects the
// server can only validate once the set's own writes are done — those in a
// Namespace the set creates, and custom resources whose
// CustomResourceDefinition the set creates or changes — are validated as
// they are applied instead, so a set the API server rejects is not
// half-applied except for those objects.
//
// Otherwise Apply returns the ChangeSet of every object that succeeded and,
// when some failed while being applied, a *SetError naming each failed
// object and why; objects that depend on a failed one are not applied and
// fail with a *DependencyError.
//
// The ChangeSet is never nil, also alongside an error: it lists the objects
// that were applied before the failure, and is empty when the set was
// rejected before any write.
func (m *Manager) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	none := &ChangeSet{Changes: []Change{}}
	rules, err := compileIgnoreRules(opts.IgnoreRules)
	if err != nil {
		return none, err
	}
	items, err := m.prepare(ctx, objs, opts.DefaultNamespace)
	if err != nil {
		return none, err
	}
	m.stampOwner(items)
	if err := link(items); err != nil {
		return none, err
	}
	r := m.newRun(items, opts.DisableLocalDecision)
	pre, rejected := m.preflight(ctx, r, items, rules, opts)
	if len(rejected) > 0 {
		return none, &SetError{Op: "apply", Objects: rejected}
	}
	changes := make([]Change, len(items))
	deps := make([][]int, len(items))
	for i, it := range items {
		deps[i] = it.deps
	}
	errs := schedule(ctx, m.concurrency, deps, func(i int) ObjectID { return items[i].id }, func(ctx context.Context, i int) error {
		it := items[i]
		if opts.WaitForDependencies {
			for j := range it.explicit {
				if err := m.waitOne(ctx, items[j].obj, opts.timeout()); err != nil {
					return fmt.Errorf("dependency %s: %w", items[j].id, err)
				}
			}
		}
		c, err := m.write(ctx, r, it, pre[i], rules, opts)
		changes[i] = c
		return err
	})
	return collect("apply", items, changes, errs)
}

// collect builds the ChangeSet and the SetError of a scheduled run.
func collect(op string, items []*item, changes []Change, errs []error) (*ChangeSet, error) {
	cs := &ChangeSet{Changes: make([]Change, 0, len(items))}
	var failed []*ObjectError
	for i, it := range items {
		if errs[i] != nil {
			oe := &ObjectError{ID: it.id, Err: errs[i], version: it.obj.GroupVersionKind().Version}
			var me *mayExistError
			oe.MayExist = errors.As(errs[i], &me)
			failed = append(failed, oe)
			continue
		}
		cs.Changes = append(cs.Changes, changes[i])
	}
	if len(failed) > 0 {
		return cs, &SetError{Op: op, Objects: failed}
	}
	return cs, nil
}

// mayExistError is the failure of an object that may be on the cluster as
// applied all the same (ObjectError.MayExist).
type mayExistError struct{ err error }

func (e *mayExistError) Error() string { return e.err.Error() }
func (e *mayExistError) Unwrap() error { return e.err }

// uncertain returns err, the failure of a write, as a mayExistError unless
// the API server answered it with a refusal (a status below 500): after a
// timeout, a cancelled context, a dropped connection or a server error the
// write may have been stored, its answer lost.
func uncertain(err error) error {
	var st apierrors.APIStatus
	if errors.As(err, &st) && st.Status().Code > 0 && st.Status().Code < 500 {
		return err
	}
	return &mayExistError{err}
}

func (m *Manager) stampOwner(items []*item) {
	ls := m.owner.labels()
	if ls == nil {
		return
	}
	for _, it := range items {
		l := it.obj.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range ls {
			l[k] = v
		}
		it.obj.SetLabels(l)
	}
}

// write applies one object as its pre-flight decided, without reading or
// dry-running it again; an object the pre-flight left alone goes through
// applyOne.
func (m *Manager) write(ctx context.Context, r *run, it *item, c checked, rules []ignoreRule, opts ApplyOptions) (Change, error) {
	if !c.done || c.action == "" {
		return m.applyOne(ctx, r, it, rules, opts)
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("object", it.id.String())
	change := Change{ID: it.id, Version: it.obj.GroupVersionKind().Version, Action: c.action, Reason: c.reason}
	force := it.policy != PolicyMerge
	if c.direct {
		return m.writeDirect(ctx, it, c, force, opts)
	}
	switch c.action {
	case ActionSkipped:
		return change, nil
	case ActionUnchanged:
		if established(c.live) {
			return change, nil // nothing to wait for
		}
	case ActionCreated, ActionConfigured:
		if _, err := m.apply(ctx, c.desired, force, false); err != nil {
			return Change{ID: it.id, Version: change.Version}, uncertain(err)
		}
		log.V(1).Info(string(c.action))
	case ActionRecreated:
		if err := m.recreate(ctx, it, c.live, opts); err != nil {
			return Change{ID: it.id, Version: change.Version}, err
		}
		log.V(1).Info("recreated")
	}
	return change, m.afterApply(ctx, it, opts)
}

// writeDirect writes an object the pre-flight did not dry-run
// (ApplyOptions.DisablePreflight) and tells from the answer what changed.
func (m *Manager) writeDirect(ctx context.Context, it *item, c checked, force bool, opts ApplyOptions) (Change, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("object", it.id.String())
	change := Change{ID: it.id, Version: it.obj.GroupVersionKind().Version}
	out, err := m.apply(ctx, c.desired, force, false)
	switch {
	case err != nil && c.live != nil && isImmutableError(err) && (opts.Recreate || it.recreate):
		if err := m.recreate(ctx, it, c.live, opts); err != nil {
			return change, err
		}
		change.Action = ActionRecreated
	case err != nil:
		return change, uncertain(err)
	case c.live == nil:
		change.Action = ActionCreated
	case sameObject(out, c.live):
		change.Action = ActionUnchanged
	default:
		change.Action = ActionConfigured
	}
	log.V(1).Info(string(change.Action), "preflight", false)
	return change, m.afterApply(ctx, it, opts)
}

// applyOne reads, dry-runs and applies one object: the whole decision for
// an object the pre-flight could not validate, made as it is applied.
func (m *Manager) applyOne(ctx context.Context, r *run, it *item, rules []ignoreRule, opts ApplyOptions) (Change, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("object", it.id.String())
	gvk := it.obj.GroupVersionKind()
	change := Change{ID: it.id, Version: gvk.Version}
	if it.policy == PolicyIgnore {
		change.Action, change.Reason = ActionSkipped, "apply policy "+PolicyIgnore
		return change, nil
	}
	if err := m.ensureMapping(ctx, gvk, opts.timeout()); err != nil {
		return change, err
	}
	live, err := r.get(ctx, it)
	if err != nil {
		return change, err
	}
	force := it.policy != PolicyMerge
	if live == nil {
		if _, err := m.apply(ctx, it.obj, force, false); err != nil {
			return change, uncertain(err)
		}
		change.Action = ActionCreated
		log.V(1).Info("created")
		return change, m.afterApply(ctx, it, opts)
	}
	if it.policy == PolicyIfNotPresent {
		change.Action, change.Reason = ActionSkipped, "apply policy "+PolicyIfNotPresent+" and the object exists"
		return change, nil
	}
	if it.policy != PolicyMerge {
		if live, err = m.takeOver(ctx, it, live); err != nil {
			return change, fmt.Errorf("taking over fields: %w", err)
		}
	}
	desired, err := m.desired(it, live, rules, opts)
	if err != nil {
		return change, err
	}
	dry, err := m.apply(ctx, desired, force, true)
	if err != nil {
		if isImmutableError(err) && (opts.Recreate || it.recreate) {
			if err := m.recreate(ctx, it, live, opts); err != nil {
				return change, err
			}
			change.Action = ActionRecreated
			log.V(1).Info("recreated")
			return change, m.afterApply(ctx, it, opts)
		}
		return change, err
	}
	if sameObject(dry, live) {
		change.Action = ActionUnchanged
		return change, m.afterApply(ctx, it, opts)
	}
	if _, err := m.apply(ctx, desired, force, false); err != nil {
		return change, uncertain(err)
	}
	change.Action = ActionConfigured
	log.V(1).Info("configured")
	return change, m.afterApply(ctx, it, opts)
}

// desired returns what to apply to an existing object: the object without
// the fields the ignore rules leave alone and, for PolicyMerge, without
// the fields other managers hold.
func (m *Manager) desired(it *item, live *unstructured.Unstructured, rules []ignoreRule, opts ApplyOptions) (*unstructured.Unstructured, error) {
	desired, err := ignoreFields(it.obj, live, rules, m.owner.Field)
	if err != nil {
		return nil, err
	}
	if it.policy == PolicyMerge {
		return withoutOthersFields(desired, live, m.owner.Field)
	}
	if opts.IgnoreOthersFields {
		return m.withoutOnlyOthersFields(desired, live)
	}
	return desired, nil
}

// withoutOnlyOthersFields returns desired without the fields other
// managers hold and the owner does not, except the takeover managers'
// (those are drift to take back).
func (m *Manager) withoutOnlyOthersFields(desired, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	others, err := othersFields(live, m.owner.Field, true, m.takeover...)
	if err != nil {
		return nil, err
	}
	if others.Empty() {
		return desired, nil
	}
	out := desired.DeepCopy()
	removeFields(out.Object, others)
	return out, nil
}

// established reports whether live is a CustomResourceDefinition whose
// Established condition is True (it needs no wait), or not a CRD at all.
func established(live *unstructured.Unstructured) bool {
	if live == nil || IDOf(live).GroupKind() != gkCRD {
		return live != nil
	}
	conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
	for _, c := range conds {
		if cm, ok := c.(map[string]any); ok && cm["type"] == "Established" && cm["status"] == "True" {
			return true
		}
	}
	return false
}

// afterApply waits for what dependents need: a CRD Established and served.
func (m *Manager) afterApply(ctx context.Context, it *item, opts ApplyOptions) error {
	if it.id.GroupKind() != gkCRD {
		return nil
	}
	if err := m.waitOne(ctx, it.obj, opts.timeout()); err != nil {
		// Applied: it is on the cluster.
		return &mayExistError{fmt.Errorf("waiting for the CustomResourceDefinition to be established: %w", err)}
	}
	return nil
}

// ensureMapping makes sure the RESTMapper knows the kind, retrying while a
// CustomResourceDefinition applied moments ago reaches discovery.
func (m *Manager) ensureMapping(ctx context.Context, gvk schema.GroupVersionKind, timeout time.Duration) error {
	_, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		if r, ok := m.mapper.(meta.ResettableRESTMapper); ok {
			r.Reset()
		}
		_, err = m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil || !meta.IsNoMatchError(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kind %s not served by the API server: %w", gvk, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// get returns the live object, or nil when it does not exist.
func (m *Manager) get(ctx context.Context, gvk schema.GroupVersionKind, id ObjectID) (*unstructured.Unstructured, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(gvk)
	err := m.client.Get(ctx, types.NamespacedName{Namespace: id.Namespace, Name: id.Name}, live)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return live, nil
}

// apply sends a server-side apply of obj and returns the server's result.
func (m *Manager) apply(ctx context.Context, obj *unstructured.Unstructured, force, dryRun bool) (*unstructured.Unstructured, error) {
	out := obj.DeepCopy()
	opts := []client.ApplyOption{client.FieldOwner(m.owner.Field)}
	if force {
		opts = append(opts, client.ForceOwnership)
	}
	if dryRun {
		opts = append(opts, client.DryRunAll)
	}
	if err := m.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(out), opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// sameObject reports whether a dry-run result equals the live object, up to
// what the server changes on every write: resourceVersion, generation and
// managedFields timestamps. The owner's managed fields are compared, so a
// change of ownership alone counts as a change. It copies nothing.
func sameObject(dry, live *unstructured.Unstructured) bool {
	a, b := dry.Object, live.Object
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			return false
		}
		if k == "metadata" {
			am, aok := av.(map[string]any)
			bm, bok := bv.(map[string]any)
			if !aok || !bok || !sameMetadata(am, bm) {
				return false
			}
			continue
		}
		if !equality.Semantic.DeepEqual(av, bv) {
			return false
		}
	}
	return true
}

// sameMetadata compares two metadata maps without resourceVersion,
// generation and the managed fields' timestamps.
func sameMetadata(a, b map[string]any) bool {
	skip := func(k string) bool { return k == "resourceVersion" || k == "generation" || k == "managedFields" }
	n := 0
	for k, av := range a {
		if skip(k) {
			continue
		}
		n++
		bv, ok := b[k]
		if !ok || !equality.Semantic.DeepEqual(av, bv) {
			return false
		}
	}
	for k := range b {
		if !skip(k) {
			n--
		}
	}
	if n != 0 {
		return false
	}
	am, _ := a["managedFields"].([]any)
	bm, _ := b["managedFields"].([]any)
	if len(am) != len(bm) {
		return false
	}
	for i := range am {
		ae, aok := am[i].(map[string]any)
		be, bok := bm[i].(map[string]any)
		if !aok || !bok {
			return false
		}
		_, at := ae["time"]
		_, bt := be["time"]
		if len(ae)-btoi(at) != len(be)-btoi(bt) {
			return false
		}
		for k, v := range ae {
			if k == "time" {
				continue
			}
			if w, ok := be[k]; !ok || !equality.Semantic.DeepEqual(v, w) {
				return false
			}
		}
	}
	return true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isImmutableError reports whether an apply failed because it changes an
// immutable field: an Invalid status whose causes are FieldValueInvalid or
// FieldValueForbidden errors about immutability, with the message as a
// fallback for servers that return no causes.
func isImmutableError(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	s := status.Status()
	if s.Reason != metav1.StatusReasonInvalid {
		return false
	}
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			switch c.Type {
			case metav1.CauseTypeFieldValueInvalid, metav1.CauseType(field.ErrorTypeForbidden):
				if strings.Contains(c.Message, "immutable") || strings.Contains(c.Message, "Forbidden: updates to") {
					return true
				}
			}
		}
	}
	return strings.Contains(s.Message, "field is immutable")
}

// recreate deletes the live object, waits until it is gone and creates it.
func (m *Manager) recreate(ctx context.Context, it *item, live *unstructured.Unstructured, opts ApplyOptions) error {
	uid := live.GetUID()
	err := m.client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting to recreate: %w", err)
	}
	if err := m.waitGone(ctx, []*unstructured.Unstructured{live}, opts.timeout()); err != nil {
		return fmt.Errorf("deleting to recreate: %w", err)
	}
	if _, err := m.apply(ctx, it.obj, it.policy != PolicyMerge, false); err != nil {
		return fmt.Errorf("creating after delete: %w", uncertain(err))
	}
	return nil
}

// needsTakeover reports whether takeOver would patch live, without a
// request.
func (m *Manager) needsTakeover(it *item, live *unstructured.Unstructured) (bool, error) {
	if len(m.takeover) == 0 {
		return false, nil
	}
	if _, hasLast := live.GetAnnotations()[LastAppliedAnnotation]; hasLast {
		return true, nil
	}
	md, _ := live.Object["metadata"].(map[string]any)
	entries, _ := md["managedFields"].([]any) // read in place: NestedSlice copies
	for _, e := range entries {
		em, _ := e.(map[string]any)
		name, _ := em["manager"].(string)
		op, _ := em["operation"].(string)
		sub, _ := em["subresource"].(string)
		if matchesTakeover(metav1.ManagedFieldsEntry{Manager: name, Operation: metav1.ManagedFieldsOperationType(op), Subresource: sub}, m.takeover) {
			return true, nil
		}
	}
	return false, nil
}

// takeOver moves the fields held by the takeover managers to the owner and
// drops kubectl's last-applied annotation, with one JSON patch guarded by
// the live resourceVersion. It returns the patched object, or live when
// there was nothing to take over.
func (m *Manager) takeOver(ctx context.Context, it *item, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	merged, ok, err := takeoverManagedFields(live.GetManagedFields(), m.takeover, m.owner.Field, it.obj.GetAPIVersion())
	if err != nil {
		return nil, err
	}
	_, hasLast := live.GetAnnotations()[LastAppliedAnnotation]
	if !ok && !(hasLast && len(m.takeover) > 0) {
		return live, nil
	}
	ops := []map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
	}
	if ok {
		ops = append(ops, map[string]any{"op": "replace", "path": "/metadata/managedFields", "value": merged})
	}
	if hasLast {
		ops = append(ops, map[string]any{"op": "remove", "path": "/metadata/annotations/" + escapePointer(LastAppliedAnnotation)})
	}
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	out := live.DeepCopy()
	if err := m.client.Patch(ctx, out, client.RawPatch(types.JSONPatchType, body), client.FieldOwner(m.owner.Field)); err != nil {
		return nil, err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("took over fields", "object", it.id.String())
	return out, nil
}
