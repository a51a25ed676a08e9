package ssa

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PruneOptions are the per-call knobs of Prune. The zero value deletes with
// background propagation and does not wait.
type PruneOptions struct {
	// Propagation is the deletion propagation policy. Default Background.
	Propagation metav1.DeletionPropagation
	// Wait waits until every deleted object is gone (finalizers done).
	Wait bool
	// Timeout bounds the wait. Default five minutes.
	Timeout time.Duration
}

// Prune deletes the objects of stale (typically old.Diff(new)), dependents
// before what they depend on: objects in a Namespace before the Namespace,
// custom resources before their CRD, and so on, the reverse of Apply's
// order. It leaves alone, reporting them Skipped:
//   - objects annotated ssa.gitopskit.dev/prune: disabled or apply: Ignore;
//   - objects whose ownership labels (<Owner.Group>/name and /namespace)
//     name another owner.
//
// Objects already gone are left out of the ChangeSet. Failures are returned
// in a *SetError next to the ChangeSet of the others; the ChangeSet is never
// nil.
func (m *Manager) Prune(ctx context.Context, stale *Inventory, opts PruneOptions) (*ChangeSet, error) {
	targets, err := stale.Objects()
	if err != nil {
		return &ChangeSet{Changes: []Change{}}, err
	}
	// Read the live objects: their annotations and labels decide, and their
	// dependencies order the deletion.
	lives := make([]*unstructured.Unstructured, len(targets))
	none := make([][]int, len(targets))
	errs := schedule(ctx, m.concurrency, none, func(i int) ObjectID { return IDOf(targets[i]) }, func(ctx context.Context, i int) error {
		gvk := targets[i].GroupVersionKind()
		if _, err := m.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil // the kind is gone, and so is the object
		}
		live, err := m.get(ctx, gvk, IDOf(targets[i]))
		lives[i] = live
		return err
	})
	var failed []*ObjectError
	var items []*item
	for i, t := range targets {
		if errs[i] != nil {
			failed = append(failed, &ObjectError{ID: IDOf(t), Err: errs[i]})
			continue
		}
		if lives[i] != nil {
			items = append(items, &item{obj: lives[i], id: IDOf(lives[i])})
		}
	}
	linkLenient(items)
	// reverse the edges: a node waits for the nodes that depend on it
	rdeps := make([][]int, len(items))
	for i, it := range items {
		for _, d := range it.deps {
			rdeps[d] = append(rdeps[d], i)
		}
	}
	propagation := opts.Propagation
	if propagation == "" {
		propagation = metav1.DeletePropagationBackground
	}
	changes := make([]Change, len(items))
	derrs := schedule(ctx, m.concurrency, rdeps, func(i int) ObjectID { return items[i].id }, func(ctx context.Context, i int) error {
		c, err := m.deleteOne(ctx, items[i], propagation)
		changes[i] = c
		return err
	})
	cs, err := collect("prune", items, changes, derrs)
	if se, ok := err.(*SetError); ok {
		failed = append(failed, se.Objects...)
	}
	if opts.Wait {
		var deleted []*unstructured.Unstructured
		for i, c := range changes {
			if derrs[i] == nil && c.Action == ActionDeleted {
				deleted = append(deleted, items[i].obj)
			}
		}
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 5 * time.Minute
		}
		if err := m.waitGone(ctx, deleted, timeout); err != nil {
			if len(failed) == 0 {
				return cs, fmt.Errorf("waiting for deletion: %w", err)
			}
			failed = append(failed, &ObjectError{ID: ObjectID{Kind: "Wait"}, Err: err})
		}
	}
	if len(failed) > 0 {
		return cs, &SetError{Op: "prune", Objects: failed}
	}
	return cs, nil
}

func (m *Manager) deleteOne(ctx context.Context, it *item, propagation metav1.DeletionPropagation) (Change, error) {
	c := Change{ID: it.id, Version: it.obj.GroupVersionKind().Version}
	ann := it.obj.GetAnnotations()
	switch {
	case ann[PruneAnnotation] == Disabled:
		c.Action, c.Reason = ActionSkipped, "prune "+Disabled
		return c, nil
	case ann[ApplyPolicyAnnotation] == PolicyIgnore:
		c.Action, c.Reason = ActionSkipped, "apply policy "+PolicyIgnore
		return c, nil
	}
	if ours := m.owner.labels(); ours != nil {
		l := it.obj.GetLabels()
		for k, v := range ours {
			if got, ok := l[k]; ok && got != v {
				c.Action = ActionSkipped
				c.Reason = fmt.Sprintf("owned by %s/%s", l[m.owner.Group+"/namespace"], l[m.owner.Group+"/name"])
				return c, nil
			}
		}
	}
	uid := it.obj.GetUID()
	err := m.client.Delete(ctx, it.obj, client.PropagationPolicy(propagation), client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) {
		return c, err
	}
	c.Action = ActionDeleted
	logr.FromContextOrDiscard(ctx).V(1).Info("deleted", "object", it.id.String())
	return c, nil
}
