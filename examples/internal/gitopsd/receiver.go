package gitopsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitopskit/kit/events/receivers"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"

	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	"github.com/gitopskit/kit/examples/internal/controller/notification"
)

// DefaultReceiverAddr is the default bind address of the webhook receiver
// server, the port of Flux's webhook receiver.
const DefaultReceiverAddr = ":9292"

// receiverShutdown bounds how long a stopping gitopsd lets webhooks in
// flight finish.
const receiverShutdown = 10 * time.Second

// receiverMaxBody bounds a webhook's body: 3 MiB, as Flux's receiver;
// a larger one is answered 413 without being read further.
const receiverMaxBody = receivers.DefaultMaxBodyBytes

// ReceiverAddr returns the address the webhook receiver server is bound
// to, or nil when it is disabled (Options.ReceiverAddr empty).
func (o *Operator) ReceiverAddr() net.Addr {
	if o.rln == nil {
		return nil
	}
	return o.rln.Addr()
}

// validReceiverAddr checks --receiver-addr: empty (no receiver server) or
// host:port.
func validReceiverAddr(addr string) error {
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("invalid --receiver-addr: want host:port or empty, got %q", addr)
	}
	return nil
}

// listenReceiver binds the receiver server's listener; nil when addr is
// empty (the server is disabled).
func listenReceiver(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("receiver server: %w", err)
	}
	return ln, nil
}

// addReceiverServer registers the webhook receiver server on mgr, serving
// on ln: the index of Receivers by status.webhookPath it looks them up
// with, and the server as a runnable of every replica.
func addReceiverServer(mgr manager.Manager, ln net.Listener, policy acl.Policy, scheme *runtime.Scheme) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &notificationv1.Receiver{},
		notification.WebhookPathIndex, notification.IndexWebhookPath)
	if err != nil {
		return fmt.Errorf("receiver server: indexing %s: %w", notification.WebhookPathIndex, err)
	}
	// Uncached: the annotated objects are listed and patched at the API
	// server, so that a Receiver naming a kind starts no informer on it.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: scheme, Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("receiver server: %w", err)
	}
	hooks := &receiverHooks{receivers: mgr.GetClient(), secrets: mgr.GetAPIReader(), objects: direct, scheme: scheme, policy: policy}
	srv := receivers.NewHandler(hooks, hooks.trigger, receivers.WithMaxBodyBytes(receiverMaxBody)).Server(ln.Addr().String())
	log := mgr.GetLogger().WithName("receiver")
	return mgr.Add(&receiverServer{srv: srv, ln: ln, log: log})
}

// receiverHooks are the Lookup and Trigger of gitopsd's webhook receiver
// server.
type receiverHooks struct {
	// receivers lists Receivers from the manager's cache, by the webhook
	// path index.
	receivers client.Reader
	// secrets reads the token Secrets (and the Namespaces a selector
	// policy matches) from the API server, never cached.
	secrets client.Reader
	// objects lists and patches the objects a webhook asks to reconcile.
	objects client.Client
	scheme  *runtime.Scheme
	policy  acl.Policy
}

// Lookup finds the Receiver whose status.webhookPath is path. A suspended
// Receiver, or one that is not Ready at its generation (its Secret or spec
// failed the last reconcile), is unavailable (503), as in Flux. A token
// changed since the path was published makes the old path unknown (404)
// until the Receiver's next reconcile publishes the new one.
func (h *receiverHooks) Lookup(ctx context.Context, path string) (*receivers.Receiver, error) {
	log := logr.FromContextOrDiscard(ctx)
	var list notificationv1.ReceiverList
	if err := h.receivers.List(ctx, &list, client.MatchingFields{notification.WebhookPathIndex: path}); err != nil {
		return nil, fmt.Errorf("listing receivers: %w", err)
	}
	switch len(list.Items) {
	case 0:
		return nil, nil
	case 1:
	default:
		// The same token, with names and namespaces that concatenate
		// alike: refuse rather than pick one.
		log.Info("webhook refused: several receivers share its path", "receivers", len(list.Items))
		return nil, fmt.Errorf("%w: several receivers share the path", receivers.ErrUnavailable)
	}
	obj := &list.Items[0]
	log = log.WithValues("receiver", obj.Namespace+"/"+obj.Name)
	ready := conditions.Get(obj, conditions.Ready)
	switch {
	case obj.Spec.Suspend:
		log.Info("webhook refused: the receiver is suspended")
		return nil, fmt.Errorf("%w: suspended", receivers.ErrUnavailable)
	case ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != obj.Generation:
		log.Info("webhook refused: the receiver is not ready")
		return nil, fmt.Errorf("%w: not ready", receivers.ErrUnavailable)
	}
	token, err := notification.ReceiverToken(ctx, h.secrets, obj)
	switch {
	case apierrors.IsNotFound(err) || errors.Is(err, notification.ErrNoToken):
		log.Info("webhook refused: the receiver's token is gone", "error", err.Error())
		return nil, fmt.Errorf("%w: no token", receivers.ErrUnavailable)
	case err != nil:
		return nil, err
	}
	resources, err := notification.ReceiverResources(h.scheme, obj)
	if err != nil {
		log.Info("webhook refused: the receiver's resources are invalid", "error", err.Error())
		return nil, fmt.Errorf("%w: invalid resources", receivers.ErrUnavailable)
	}
	rcv := &receivers.Receiver{
		Type: obj.Spec.Type, Name: obj.Name, Namespace: obj.Namespace, Token: token,
		Events: obj.Spec.Events, Resources: resources,
	}
	if rcv.Path() != path {
		log.V(1).Info("webhook refused: the receiver's token changed since its path was published")
		return nil, nil
	}
	return rcv, nil
}

// trigger asks the webhook's resources to reconcile: those in the
// Receiver's namespace, and those in other namespaces that the
// cross-namespace policy lets the Receiver's namespace reach. A denied
// resource is not touched, and fails the webhook (500) once the others
// are annotated, as a RequestReconcile error does.
func (h *receiverHooks) trigger(ctx context.Context, req *receivers.Request) error {
	from := req.Receiver.Namespace
	var allowed []receivers.Resource
	var errs []error
	for _, res := range req.Resources {
		if err := h.policy.Check(ctx, h.secrets, from, res.Namespace); err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", res.Kind, res.Namespace, res.Name, err))
			continue
		}
		allowed = append(allowed, res)
	}
	done, err := receivers.RequestReconcile(ctx, h.objects, allowed, time.Now())
	if len(done) > 0 {
		logr.FromContextOrDiscard(ctx).V(1).Info("reconcile requested", "objects", len(done))
	}
	return errors.Join(append(errs, err)...)
}

// receiverServer runs the webhook receiver server as a manager runnable.
// It runs on every replica, not only the leader: a webhook only annotates
// objects, which the leader's reconcilers then act on, so any replica
// behind the Service can take it.
type receiverServer struct {
	srv *http.Server
	ln  net.Listener
	log logr.Logger
}

// NeedLeaderElection reports that every replica serves webhooks.
func (s *receiverServer) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then shuts down gracefully: the listener
// closes at once and webhooks in flight get receiverShutdown to finish.
func (s *receiverServer) Start(ctx context.Context) error {
	// Requests carry the logger, and outlive ctx while shutting down.
	base := logr.NewContext(context.WithoutCancel(ctx), s.log)
	s.srv.BaseContext = func(net.Listener) context.Context { return base }
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	s.log.Info("serving webhooks", "addr", s.ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("receiver server: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), receiverShutdown)
	defer cancel()
	if err := s.srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("receiver server: shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("receiver server: %w", err)
	}
	return nil
}
