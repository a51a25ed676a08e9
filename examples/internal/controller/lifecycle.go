package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/patch"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// Reconciled is what a Lifecycle runs: an object with status conditions,
// spec.suspend and spec.interval.
type Reconciled interface {
	reconcile.Object
	reconcile.Suspender
	GetInterval() time.Duration
}

// Lifecycle is the part of a reconcile every gitopsd reconciler shares, so
// each one writes only its own work: read the object, record metrics, honour
// suspend, keep a finalizer, finalize on deletion, turn the outcome into
// Ready/Reconciling/Stalled and a requeue (runtime/reconcile.Result), and
// write the status once (runtime/patch), owning only its conditions.
type Lifecycle[T Reconciled] struct {
	// Client reads and patches the object.
	Client client.Client
	// Metrics, when not nil, records every reconcile.
	Metrics *metrics.Recorder
	// Finalizer is kept on the object until Finalize succeeded.
	Finalizer string
	// OwnedConditions are the condition types the reconciler writes.
	OwnedConditions []string
	// SummaryOwned are the positive-polarity conditions Ready summarises,
	// added to the Summary Reconcile returns.
	SummaryOwned []string
	// RetryInterval returns how soon a failure is retried; nil means
	// reconcile.Result's default (the interval).
	RetryInterval func(obj T) time.Duration
	// Finalize cleans up what the object made, once it is being deleted.
	// The finalizer is removed when it returns nil; an error is recorded
	// in the conditions and retried.
	Finalize func(ctx context.Context, obj T) error
	// Reconcile does the work and returns the summary Ready is computed
	// with. Its error decides the conditions (reconcile.Stall, Wait, Fail).
	Reconcile func(ctx context.Context, obj T) (conditions.Summary, error)
}

// Run reconciles the object req names, read into obj (a new, empty object
// of the reconciled kind).
func (l Lifecycle[T]) Run(ctx context.Context, req ctrl.Request, obj T) (res ctrl.Result, retErr error) {
	start := time.Now()
	if err := l.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone without our finalizer (or it was removed by hand).
			obj.SetName(req.Name)
			obj.SetNamespace(req.Namespace)
			deleteMetrics(l.Metrics, obj)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Deferred first, so it runs last: after the status write.
	defer recordMetrics(l.Metrics, obj, l.Finalizer, start)
	if reconcile.Skip(obj) {
		return ctrl.Result{}, nil
	}
	helper, err := patch.NewHelper(obj, l.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	deleting := !obj.GetDeletionTimestamp().IsZero()
	if deleting && !controllerutil.ContainsFinalizer(obj, l.Finalizer) {
		return ctrl.Result{}, nil
	}
	// Persist the finalizer before the object's work makes anything (an
	// artifact, an applied object) that could otherwise outlive it.
	if !deleting && !controllerutil.ContainsFinalizer(obj, l.Finalizer) {
		controllerutil.AddFinalizer(obj, l.Finalizer)
		if err := helper.Patch(ctx, obj, patch.Options{}); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		if helper, err = patch.NewHelper(obj, l.Client); err != nil {
			return ctrl.Result{}, err
		}
	}

	log := logr.FromContextOrDiscard(ctx)
	var summary conditions.Summary
	defer func() {
		if retErr != nil {
			// Messages carry no secret (see reconcile.Result): they are
			// the conditions' too.
			log.Info("reconcile failed", "error", retErr.Error())
		}
		summary.Owned = append(summary.Owned, l.SummaryOwned...)
		opts := reconcile.ResultOptions{Interval: obj.GetInterval(), Summary: summary}
		if l.RetryInterval != nil {
			opts.RetryInterval = l.RetryInterval(obj)
		}
		res, retErr = reconcile.Result(obj, retErr, opts)
		retErr = errors.Join(retErr, helper.Patch(ctx, obj, patch.Options{
			ObservedGeneration: true,
			OwnedConditions:    l.OwnedConditions,
		}))
		log.V(1).Info("reconciled", "duration", time.Since(start).String(), "ready", conditions.IsReady(obj))
	}()

	if deleting {
		if err := l.Finalize(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
		controllerutil.RemoveFinalizer(obj, l.Finalizer)
		return ctrl.Result{}, nil
	}
	summary, err = l.Reconcile(ctx, obj)
	return ctrl.Result{}, err
}
