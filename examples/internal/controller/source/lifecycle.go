package source

import (
	"context"
	"time"

	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"

	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// sourceObject is an object of a source kind.
type sourceObject interface {
	controllers.Reconciled
	GetTimeout() time.Duration
	GetArtifact() *artifact.Artifact
}

// sourceLifecycle holds what every source reconciler hands the Lifecycle.
type sourceLifecycle struct {
	client     client.Client
	storage    *storage.Storage
	metrics    *metrics.Recorder
	events     record.EventRecorder
	suspension *controllers.Suspension
}

// run reconciles the source object req names with the same finalizer,
// conditions and reporting for every source kind: finalize removes its
// artifacts, reconcile does the kind's work within spec.timeout (a
// deadline it meets is explained as the timeout). Whatever the outcome,
// the artifact in status is addressed at the storage's current URL: a
// gitopsd restarted behind another address (--storage-adv-addr, a new
// Service) re-points the artifacts it already has instead of leaving
// consumers to download from where it used to be.
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
			err = explainTimeout(ctx, obj.GetTimeout(), reconcile(ctx, obj, rep, &s))
			if a := obj.GetArtifact(); a != nil && l.storage != nil && a.Path != "" {
				a.URL = l.storage.URL(a.Path)
			}
			return s, err
		},
	}.Run(ctx, req, obj)
}
