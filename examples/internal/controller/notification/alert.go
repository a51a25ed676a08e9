package notification

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// AlertControllerName is the controller-runtime name of the Alert
// controller.
const AlertControllerName = "alert"

// AlertFinalizer holds an Alert until its metrics are dropped.
const AlertFinalizer = "notification.gitopskit.dev/alert-finalizer"

// Ready=False reasons of the Alert controller.
const (
	// InvalidExpressionReason: an inclusionList or exclusionList entry is
	// not a valid regular expression (Stalled until the spec changes).
	InvalidExpressionReason = "InvalidExpression"
	// ProviderNotFoundReason: spec.providerRef names no Provider.
	ProviderNotFoundReason = "ProviderNotFound"
	// ProviderNotReadyReason: the Provider is not Ready (its Secrets do
	// not resolve).
	ProviderNotReadyReason = "ProviderNotReady"
	// SourceAccessDeniedReason: an event source names a namespace the
	// cross-namespace policy does not let the Alert's namespace reach
	// (retried: a namespace label may change that).
	SourceAccessDeniedReason = "AccessDenied"
)

// providerRefIndex maps an Alert to the name of its Provider.
const providerRefIndex = ".spec.providerRef"

// alertConditions are the condition types the Alert controller writes.
var alertConditions = []string{conditions.Ready, conditions.Reconciling, conditions.Stalled}

// AlertReconciler reconciles Alerts: it checks the spec (the regular
// expressions) and the Provider, so Ready says whether the Alert routes
// events. The hub reads Alerts from the cache itself (Alerts); an Alert
// that is not Ready is skipped there too.
type AlertReconciler struct {
	// Client reads and writes Alerts and reads Providers.
	Client client.Client
	// ACL is the cross-namespace policy the hub applies too; the zero
	// Policy keeps event sources in the Alert's namespace.
	ACL acl.Policy
	// Concurrency is how many Alerts are reconciled in parallel; 0 means
	// 1.
	Concurrency int
	// Metrics records each reconcile; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does; nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
}

// SetupWithManager registers the reconciler, its providerRef index and
// its watches with mgr: Alerts (spec changes and reconcile requests) and
// their Providers (any change, their status included).
func (r *AlertReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("alert reconciler: Client is nil")
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &notificationv1.Alert{}, providerRefIndex, func(o client.Object) []string {
		if a, ok := o.(*notificationv1.Alert); ok {
			return []string{a.Spec.ProviderRef.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("alert reconciler: indexing %s: %w", providerRefIndex, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(AlertControllerName).
		For(&notificationv1.Alert{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		Watches(&notificationv1.Provider{}, handler.EnqueueRequestsFromMapFunc(r.forProvider)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// forProvider lists the Alerts referring to a Provider.
func (r *AlertReconciler) forProvider(ctx context.Context, o client.Object) []crreconcile.Request {
	var list notificationv1.AlertList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{providerRefIndex: o.GetName()}); err != nil {
		return nil
	}
	out := make([]crreconcile.Request, 0, len(list.Items))
	for _, a := range list.Items {
		out = append(out, crreconcile.Request{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Name}})
	}
	return out
}

// Reconcile brings one Alert's status in line with its spec and Provider.
func (r *AlertReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controllers.Lifecycle[*notificationv1.Alert]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       AlertFinalizer,
		OwnedConditions: alertConditions,
		Finalize:        func(context.Context, *notificationv1.Alert, *controllers.Reporter) error { return nil },
		Reconcile:       r.reconcile,
	}.Run(ctx, req, &notificationv1.Alert{})
}

func (r *AlertReconciler) reconcile(ctx context.Context, a *notificationv1.Alert, _ *controllers.Reporter) (conditions.Summary, error) {
	summary := conditions.Summary{}
	if _, err := compileAll("inclusionList", a.Spec.InclusionList); err != nil {
		return summary, reconcile.Stall(InvalidExpressionReason, err)
	}
	if _, err := compileAll("exclusionList", a.Spec.ExclusionList); err != nil {
		return summary, reconcile.Stall(InvalidExpressionReason, err)
	}
	for i, src := range a.Spec.EventSources {
		if src.Namespace == "" || src.Namespace == "*" || src.Namespace == a.Namespace {
			continue
		}
		err := r.ACL.Check(ctx, r.Client, a.Namespace, src.Namespace)
		if errors.Is(err, acl.ErrAccessDenied) {
			return summary, reconcile.Fail(SourceAccessDeniedReason, fmt.Errorf("spec.eventSources[%d]: %w", i, err))
		}
		if err != nil {
			return summary, err
		}
	}
	p := &notificationv1.Provider{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.ProviderRef.Name}, p)
	if apierrors.IsNotFound(err) {
		return summary, reconcile.Fail(ProviderNotFoundReason, fmt.Errorf("provider %q not found", a.Spec.ProviderRef.Name))
	}
	if err != nil {
		return summary, err
	}
	if c := conditions.Get(p, conditions.Ready); c != nil && conditions.IsFalse(p, conditions.Ready) {
		return summary, reconcile.Fail(ProviderNotReadyReason, fmt.Errorf("provider %q is not ready: %s", p.Name, c.Message))
	}
	summary.SuccessMessage = fmt.Sprintf("routing events to provider %q", p.Name)
	return summary, nil
}
