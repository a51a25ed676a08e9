package ssa

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checked is what the pre-flight learnt about one object; the write phase
// acts on it instead of reading and dry-running the object again.
type checked struct {
	// done is false for an object the pre-flight could not validate (its
	// Namespace or CustomResourceDefinition is applied by the set itself):
	// the write phase reads and dry-runs it as it is applied.
	done bool
	// live is the object on the cluster, nil when absent.
	live *unstructured.Unstructured
	// desired is what to apply: the object, or for PolicyMerge the object
	// without the fields other managers hold.
	desired *unstructured.Unstructured
	// action is what the write phase does: created, configured,
	// unchanged, skipped or recreated. Empty when the write phase must
	// decide itself (fields to take over first: the dry-run result before
	// the takeover patch cannot be compared with the object after it).
	action Action
	reason string
	// direct is set, with ApplyOptions.DisablePreflight, for an object to write
	// without a dry-run first: the write's answer tells whether it changed.
	direct bool
}

// preflight reads and dry-runs every object of the set that the API server
// can validate before the set's own writes, at most m.concurrency at a
// time, and writes nothing. An object waits only for the pre-flight of the
// Namespace and CustomResourceDefinition of the set it needs, to learn
// whether they exist already (then the object can be validated) or not
// (then it is left to the write phase). It returns one result per item and
// the objects the API server rejected, or that could not be read.
func (m *Manager) preflight(ctx context.Context, r *run, items []*item, rules []ignoreRule, opts ApplyOptions) ([]checked, []*ObjectError) {
	pre := make([]checked, len(items))
	deps := make([][]int, len(items))
	for i, it := range items {
		for _, j := range []int{it.nsItem, it.crdItem} {
			if j >= 0 {
				deps[i] = append(deps[i], j)
			}
		}
	}
	errs := schedule(ctx, m.concurrency, deps, func(i int) ObjectID { return items[i].id }, func(ctx context.Context, i int) error {
		c, err := m.checkOne(ctx, r, items[i], pre, rules, opts)
		pre[i] = c
		return err
	})
	var rejected []*ObjectError
	for i, err := range errs {
		if err != nil {
			rejected = append(rejected, &ObjectError{ID: items[i].id, Err: err})
		}
	}
	return pre, rejected
}

// validatable reports whether the API server can validate it now, given
// the pre-flight results of the set's Namespace and CRD it needs (which
// the scheduler has finished before it). It sends no request and does not
// wait: an unknown kind is left to the write phase.
func (m *Manager) validatable(it *item, pre []checked) bool {
	if j := it.nsItem; j >= 0 {
		c := pre[j]
		if !c.done || c.live == nil || c.action == ActionRecreated || c.action == "" {
			return false // created, recreated or not read by this set
		}
	}
	if j := it.crdItem; j >= 0 {
		c := pre[j]
		if !c.done || c.live == nil || (c.action != ActionUnchanged && c.action != ActionSkipped) {
			return false // the set creates or changes the schema
		}
		gvk := it.obj.GroupVersionKind()
		if _, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return false
		}
	}
	return true
}

// checkOne is the pre-flight of one object: the decision the write phase
// acts on. An object the local decision finds unchanged costs no request;
// any other existing object is dry-run, a new one too (its validation).
func (m *Manager) checkOne(ctx context.Context, r *run, it *item, pre []checked, rules []ignoreRule, opts ApplyOptions) (checked, error) {
	if it.policy == PolicyIgnore {
		return checked{done: true, action: ActionSkipped, reason: "apply policy " + PolicyIgnore}, nil
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("object", it.id.String())
	if !m.validatable(it, pre) {
		log.V(1).Info("validated when applied: needs the set's own namespace or CRD")
		return checked{}, nil
	}
	live, err := r.get(ctx, it)
	if err != nil {
		return checked{}, err
	}
	c := checked{done: true, live: live, desired: it.obj}
	force := it.policy != PolicyMerge
	if live == nil {
		if opts.DisablePreflight {
			c.action, c.direct = ActionCreated, true
			return c, nil
		}
		if _, err := m.apply(ctx, it.obj, force, true); err != nil {
			return c, rejected(err)
		}
		c.action = ActionCreated
		return c, nil
	}
	if it.policy == PolicyIfNotPresent {
		c.action, c.reason = ActionSkipped, "apply policy "+PolicyIfNotPresent+" and the object exists"
		return c, nil
	}
	if c.desired, err = m.desired(it, live, rules, opts); err != nil {
		return c, err
	}
	takeover := false
	if it.policy != PolicyMerge {
		if takeover, err = m.needsTakeover(it, live); err != nil {
			return c, fmt.Errorf("taking over fields: %w", err)
		}
	}
	if !takeover && r.local {
		same, why := r.unchanged(ctx, c.desired, live, force)
		if same {
			c.action = ActionUnchanged
			return c, nil
		}
		log.V(1).Info("not decided locally, asking the API server", "reason", why.Error())
	}
	if opts.DisablePreflight && !takeover {
		c.action, c.direct = ActionConfigured, true
		return c, nil
	}
	dry, err := m.apply(ctx, c.desired, force, true)
	switch {
	case err != nil && isImmutableError(err) && (opts.Recreate || it.recreate):
		c.action = ActionRecreated
	case err != nil:
		return c, rejected(err)
	case takeover:
		c.action = "" // the write phase takes over, then compares
	case sameObject(dry, live):
		c.action = ActionUnchanged
	default:
		c.action = ActionConfigured
	}
	return c, nil
}

// rejected marks an error of a pre-flight dry run; the API status stays
// reachable with errors.As.
func rejected(err error) error {
	return fmt.Errorf("rejected in the dry run before any write: %w", err)
}
