package release

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// waitDeleted waits until none of objs exists: a list, then a watch, per
// kind and namespace, so a deletion is seen when it happens and the cost
// does not grow with the number of objects. The error lists what is left.
func waitDeleted(ctx context.Context, c client.WithWatch, objs []*unstructured.Unstructured, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type key struct {
		gvk schema.GroupVersionKind
		ns  string
	}
	groups := map[key][]string{}
	var order []key
	for _, o := range objs {
		k := key{o.GroupVersionKind(), o.GetNamespace()}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], o.GetName())
	}
	left := make([][]string, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, k := range order {
		g.Go(func() error {
			rest, err := waitGroupDeleted(gctx, c, k.gvk, k.ns, groups[k])
			left[i] = rest
			if err != nil && gctx.Err() == nil {
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var remaining []string
	for i, k := range order {
		for _, n := range left[i] {
			remaining = append(remaining, ssa.ObjectID{Group: k.gvk.Group, Kind: k.gvk.Kind, Namespace: k.ns, Name: n}.String())
		}
	}
	if len(remaining) == 0 {
		return nil
	}
	cause := ssa.ErrTimeout
	if err := context.Cause(ctx); err != nil && ctx.Err() != context.DeadlineExceeded {
		cause = err
	}
	return fmt.Errorf("%w waiting for deletion of %d objects: %s", cause, len(remaining), strings.Join(remaining, ", "))
}

// waitGroupDeleted waits for the named objects of one kind and namespace to
// be gone; it returns those still there when ctx ends.
func waitGroupDeleted(ctx context.Context, c client.WithWatch, gvk schema.GroupVersionKind, ns string, names []string) ([]string, error) {
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	rest := func() []string {
		var out []string
		for n := range wanted {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
	for ctx.Err() == nil {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				return nil, nil // the kind itself is gone
			}
			if ctx.Err() != nil {
				break
			}
			return rest(), err
		}
		present := map[string]bool{}
		for _, it := range list.Items {
			present[it.GetName()] = true
		}
		for n := range wanted {
			if !present[n] {
				delete(wanted, n)
			}
		}
		if len(wanted) == 0 {
			return nil, nil
		}
		w, err := c.Watch(ctx, list, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.GetResourceVersion(), AllowWatchBookmarks: true}})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			continue // list again
		}
		for done := false; !done; {
			select {
			case <-ctx.Done():
				w.Stop()
				return rest(), nil
			case ev, ok := <-w.ResultChan():
				if !ok || ev.Type == watch.Error {
					done = true
					break
				}
				if ev.Type == watch.Deleted {
					if o, ok := ev.Object.(client.Object); ok {
						delete(wanted, o.GetName())
					}
					if len(wanted) == 0 {
						w.Stop()
						return nil, nil
					}
				}
			}
		}
		w.Stop()
	}
	return rest(), nil
}
