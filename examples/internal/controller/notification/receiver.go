package notification

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/gitopskit/kit/events/receivers"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// ReceiverControllerName is the controller-runtime name of the Receiver
// controller.
const ReceiverControllerName = "receiver"

// ReceiverFinalizer holds a Receiver until its metrics are dropped.
const ReceiverFinalizer = "notification.gitopskit.dev/receiver-finalizer"

// Ready=False reasons of the Receiver controller, besides
// runtime/conditions'.
const (
	// TokenNotFoundReason: the Secret of spec.secretRef is missing, or
	// holds no token (Flux's reason).
	TokenNotFoundReason = "TokenNotFound"
	// InvalidSpecReason: the spec cannot be acted upon until it changes
	// (an unknown type, a resource that is not a gitopsd kind).
	InvalidSpecReason = "InvalidSpec"
	// AccessDeniedReason: a resource in a namespace the cross-namespace
	// policy does not let the Receiver's namespace reach.
	AccessDeniedReason = "AccessDenied"
)

// receiverConditions are the condition types the Receiver controller
// writes.
var receiverConditions = []string{conditions.Ready, conditions.Reconciling, conditions.Stalled}

// ReceiverReconciler reconciles Receivers: it checks the spec, reads the
// token and publishes the webhook path in status.webhookPath, where
// gitopsd's receiver server finds it. The server does the rest, on every
// replica.
//
// The token Secret is read, never watched (gitopsd caches no Secret): a
// rotated token takes effect at the Receiver's next interval, or at once
// with a reconcile request.
type ReceiverReconciler struct {
	// Client reads and writes Receivers, and reads Secrets and Namespaces
	// uncached (controllers.UncachedObjects).
	Client client.Client
	// Scheme knows gitopsd's kinds, which resources may name; nil means
	// Client's.
	Scheme *runtime.Scheme
	// ACL decides which namespaces a Receiver's resources may be in; the
	// zero Policy keeps them in the Receiver's namespace.
	ACL acl.Policy
	// Concurrency is how many Receivers are reconciled in parallel; 0
	// means 1.
	Concurrency int
	// Metrics records each reconcile; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does; nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
}

// SetupWithManager registers the reconciler with mgr: Receivers, on
// creation, spec changes and reconcile requests.
func (r *ReceiverReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("receiver reconciler: Client is nil")
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ReceiverControllerName).
		For(&notificationv1.Receiver{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.Concurrency)}).
		Complete(r)
}

// Reconcile brings one Receiver's status in line with its spec and Secret.
func (r *ReceiverReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return controllers.Lifecycle[*notificationv1.Receiver]{
		Client:          r.Client,
		Metrics:         r.Metrics,
		Events:          r.Events,
		Suspension:      &r.suspension,
		Finalizer:       ReceiverFinalizer,
		OwnedConditions: receiverConditions,
		// Nothing outlives a Receiver: its path dies with it.
		Finalize:  func(context.Context, *notificationv1.Receiver, *controllers.Reporter) error { return nil },
		Reconcile: r.reconcile,
	}.Run(ctx, req, &notificationv1.Receiver{})
}

func (r *ReceiverReconciler) reconcile(ctx context.Context, obj *notificationv1.Receiver, rep *controllers.Reporter) (conditions.Summary, error) {
	var summary conditions.Summary
	if !slices.Contains(receivers.Types(), obj.Spec.Type) {
		obj.Status.WebhookPath = ""
		return summary, reconcile.Stall(InvalidSpecReason, fmt.Errorf("spec.type '%s' is not one of %v", obj.Spec.Type, receivers.Types()))
	}
	scheme := r.Scheme
	if scheme == nil {
		scheme = r.Client.Scheme()
	}
	resources, err := ReceiverResources(scheme, obj)
	if err != nil {
		obj.Status.WebhookPath = ""
		return summary, reconcile.Stall(InvalidSpecReason, err)
	}
	for _, res := range resources {
		err := r.ACL.Check(ctx, r.Client, obj.Namespace, res.Namespace)
		if errors.Is(err, acl.ErrAccessDenied) {
			obj.Status.WebhookPath = ""
			return summary, reconcile.Stall(AccessDeniedReason, fmt.Errorf("resource %s %s/%s: %w", res.Kind, res.Namespace, res.Name, err))
		}
		if err != nil {
			return summary, err
		}
	}
	token, err := ReceiverToken(ctx, r.Client, obj)
	if apierrors.IsNotFound(err) || errors.Is(err, ErrNoToken) {
		// No path without a token: the server answers nothing for it.
		obj.Status.WebhookPath = ""
		return summary, reconcile.Fail(TokenNotFoundReason, err)
	}
	if err != nil {
		return summary, err
	}
	rep.Mask(token)
	path := receivers.WebhookPath(token, obj.Name, obj.Namespace)
	if obj.Status.WebhookPath != path {
		obj.Status.WebhookPath = path
		// The path is the credential of a generic receiver: events (which
		// reach the hub and its providers) point to the status instead.
		rep.Eventf(corev1.EventTypeNormal, conditions.SucceededReason, "webhook path published in status.webhookPath")
	}
	conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "Receiver initialized: its webhook path is in status.webhookPath")
	return summary, nil
}
