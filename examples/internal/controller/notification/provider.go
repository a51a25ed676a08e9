package notification

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// ProviderControllerName is the controller-runtime name of the Provider
// controller.
const ProviderControllerName = "provider"

// ProviderFinalizer holds a Provider until the client built for it is
// dropped.
const ProviderFinalizer = "notification.gitopskit.dev/provider-finalizer"

// providerConditions are the condition types the Provider controller
// writes.
var providerConditions = []string{conditions.Ready, conditions.Reconciling, conditions.Stalled}

// providerRetry bounds how long a Provider whose Secrets do not resolve
// waits before it reads them again.
const providerRetry = time.Minute

// ProviderReconciler reconciles Providers: it reads the Secrets the spec
// names (uncached, never watched) and builds the provider through the
// Providers the hub uses, so Ready says whether notifications can go out
// and a reconcile makes a changed Secret effective at once. It reads them
// again every spec.interval.
type ProviderReconciler struct {
	// Client reads and writes Providers; Secrets are read through
	// Providers.Reader.
	Client client.Client
	// Providers is shared with the hub's Alerts.
	Providers *Providers
	// Concurrency is how many Providers are reconciled in parallel; 0
	// means 1.
	Concurrency int
	// Metrics records each reconcile; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does; nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
}

// SetupWithManager registers the reconciler with mgr: Providers, on
// creation, spec changes and reconcile requests.
func (r *ProviderReconciler) SetupWithManager(mgr ctrl.Manager) error {
	switch {
	case r.Client == nil:
		return errors.New("provider reconciler: Client is nil")
	case r.Providers == nil:
		return errors.New("provider reconciler: Providers is nil")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ProviderControllerName).
		For(&notificationv1.Provider{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// Reconcile brings one Provider's status in line with its spec and Secrets.
func (r *ProviderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controllers.Lifecycle[*notificationv1.Provider]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       ProviderFinalizer,
		OwnedConditions: providerConditions,
		RetryInterval: func(p *notificationv1.Provider) time.Duration {
			return min(p.GetInterval(), providerRetry)
		},
		Finalize: func(_ context.Context, p *notificationv1.Provider, _ *controllers.Reporter) error {
			r.Providers.Forget(p.UID)
			return nil
		},
		Reconcile: r.reconcile,
	}.Run(ctx, req, &notificationv1.Provider{})
}

func (r *ProviderReconciler) reconcile(ctx context.Context, p *notificationv1.Provider, rep *controllers.Reporter) (conditions.Summary, error) {
	summary := conditions.Summary{SuccessMessage: fmt.Sprintf("%s provider is ready", p.Spec.Type)}
	_, mask, err := r.Providers.Resolve(ctx, p, true)
	rep.Mask(mask...)
	switch {
	case errors.Is(err, errSecretNotFound):
		return summary, reconcile.Fail(SecretNotFoundReason, err)
	case errors.Is(err, errInvalidConfig):
		return summary, reconcile.Fail(InvalidConfigReason, err)
	case err != nil:
		return summary, err
	}
	return summary, nil
}
