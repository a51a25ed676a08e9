package source

import (
	"context"
	"time"

	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"

	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// sourceObject is an object of a source kind.
type sourceObject interface {
	controllers.Reconciled
	GetTimeout() time.Duration
}

// sourceLifecycle holds what every source reconciler hands the Lifecycle.
type sourceLifecycle struct {
	client     client.Client
	metrics    *metrics.Recorder
	events     record.EventRecorder
	suspension *controllers.Suspension
}

// run reconciles the source object req names with the same finalizer,
// conditions and reporting for every source kind: finalize removes its
// artifacts, reconcile does the kind's work within spec.timeout (a
// deadline it meets is explained as the timeout).
func run[T sourceObject](ctx context.Context, req ctrl.Request, obj T, l sourceLifecycle,
	finalize func(context.Context, T, *controllers.Reporter) error,
	reconcile func(context.Context, T, *controllers.Reporter, *conditions.Summary) error,
) (ctrl.Result, error) {
	return controllers.Lifecycle[T]{
		Client:          l.client,
		Metrics:         l.metrics,
		Events:          l.events,
		Suspension:      l.suspension,
		Finalizer:       Finalizer,
		OwnedConditions: ownedConditions,
		SummaryOwned:    summaryOwned,
		Finalize:        finalize,
		Reconcile: func(ctx context.Context, obj T, rep *controllers.Reporter) (s conditions.Summary, err error) {
			return s, explainTimeout(ctx, obj.GetTimeout(), reconcile(ctx, obj, rep, &s))
		},
	}.Run(ctx, req, obj)
}
