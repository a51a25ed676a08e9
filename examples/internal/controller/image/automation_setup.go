package image

import (
	"context"
	"errors"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// SetupWithManager registers the reconciler as the "imageupdateautomation"
// controller of mgr. It runs on creation, spec changes, reconcile
// requests and every spec.interval, and for the automations of a
// namespace whose ImagePolicy chose a new image once BatchWindow passed
// without another such change (at once when BatchWindow is 0).
func (r *ImageUpdateAutomationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("imageupdateautomation reconciler: Client is required")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("imageupdateautomation").
		For(&imagev1.ImageUpdateAutomation{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		Watches(&imagev1.ImagePolicy{}, r.policyChanges(), builder.WithPredicates(latestRefChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// latestRefChanged lets through ImagePolicies whose chosen image changed.
func latestRefChanged() predicate.Predicate {
	ref := func(o client.Object) imagev1.ImageRef {
		if p, ok := o.(*imagev1.ImagePolicy); ok && p.Status.LatestRef != nil {
			return *p.Status.LatestRef
		}
		return imagev1.ImageRef{}
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return ref(e.Object) != imagev1.ImageRef{} },
		UpdateFunc:  func(e event.UpdateEvent) bool { return ref(e.ObjectNew) != ref(e.ObjectOld) },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// automationsOf returns the automations of the policy's namespace.
func (r *ImageUpdateAutomationReconciler) automationsOf(ctx context.Context, o client.Object) []crreconcile.Request {
	var list imagev1.ImageUpdateAutomationList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	reqs := make([]crreconcile.Request, 0, len(list.Items))
	for _, a := range list.Items {
		reqs = append(reqs, crreconcile.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return reqs
}

// Reconcile runs one ImageUpdateAutomation, unless ImagePolicy changes
// of a batch may still arrive: then it asks to be run when the batch
// window has passed.
func (r *ImageUpdateAutomationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if d := r.batches.wait(req.NamespacedName, time.Now(), r.BatchWindow); d > 0 {
		return ctrl.Result{RequeueAfter: d}, nil
	}
	return controllers.Lifecycle[*imagev1.ImageUpdateAutomation]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       Finalizer,
		OwnedConditions: ownedConditions,
		RetryInterval:   func(obj *imagev1.ImageUpdateAutomation) time.Duration { return obj.GetInterval() },
		Finalize:        r.finalize,
		Reconcile:       r.reconcile,
	}.Run(ctx, req, &imagev1.ImageUpdateAutomation{})
}
