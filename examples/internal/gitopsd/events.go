package gitopsd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitopskit/kit/events/hub"
	"github.com/gitopskit/kit/events/recorder"

	"github.com/gitopskit/kit/examples/internal/controller/notification"
)

// eventsShutdown bounds how long a stopping gitopsd keeps posting the
// events still queued for the hubs.
const eventsShutdown = 5 * time.Second

// newEventRecorder returns the recorder every reconciler records through:
// Kubernetes Events (aggregated by client-go's correlator), the same events
// handed to gitopsd's own hub h in process (notification.InProcessClient:
// no socket, so nothing else can post to it), and, with external set,
// posted to that hub too (a Flux notification-controller). Each hub has a
// recorder of its own — its own bounded queue and retries — so a slow or
// dead external hub delays nothing bound for the local one. They are
// closed, their queues drained for at most eventsShutdown, when the
// manager stops.
func newEventRecorder(mgr manager.Manager, cfg *rest.Config, scheme *runtime.Scheme, h *hub.Hub, external string) (record.EventRecorder, error) {
	local, err := recorder.New(context.Background(), Name,
		recorder.WithKubeConfig(cfg), recorder.WithScheme(scheme),
		recorder.WithHub(notification.InProcessHubURL), recorder.WithHTTPClient(notification.InProcessClient(h)))
	if err != nil {
		return nil, fmt.Errorf("event recorder: %w", err)
	}
	recs := []*recorder.Recorder{local}
	var out record.EventRecorder = local
	if external != "" {
		// No Kubernetes Events: the local recorder writes them once.
		ext, err := recorder.New(context.Background(), Name, recorder.WithScheme(scheme), recorder.WithHub(external),
			recorder.WithPrefix("gitopskit_external"))
		if err != nil {
			return nil, fmt.Errorf("event recorder for --events-addr: %w", err)
		}
		recs = append(recs, ext)
		out = tee{local, ext}
	}
	// A second gitopsd in one process (tests) finds the series registered:
	// the first recorder's stay.
	for _, r := range recs {
		_ = r.Register(ctrlmetrics.Registry)
	}
	err = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		closeCtx, cancel := context.WithTimeout(context.Background(), eventsShutdown)
		defer cancel()
		for _, r := range recs {
			if err := r.Close(closeCtx); err != nil {
				logr.FromContextOrDiscard(ctx).Info("events still queued for a hub were dropped", "error", err.Error())
			}
		}
		return nil
	}))
	if err != nil {
		return nil, fmt.Errorf("event recorder: %w", err)
	}
	return out, nil
}

// addHub builds gitopsd's event hub on the Alert and Provider objects and
// runs its delivery workers with the manager.
func addHub(mgr manager.Manager, alerts *notification.Alerts, opts ...hub.Option) (*hub.Hub, error) {
	h := notification.NewHub(alerts, opts...)
	if err := h.Register(ctrlmetrics.Registry); err != nil {
		// A second gitopsd in one process (tests): the first hub's series
		// stay.
		if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
			return nil, fmt.Errorf("event hub: %w", err)
		}
	}
	if err := mgr.Add(h); err != nil {
		return nil, fmt.Errorf("event hub: %w", err)
	}
	return h, nil
}

// tee records every event through each recorder in turn: the first writes
// the Kubernetes Events, the others only post to their hub.
type tee []record.EventRecorder

// Event records through every recorder.
func (t tee) Event(obj runtime.Object, eventtype, reason, message string) {
	for _, r := range t {
		r.Event(obj, eventtype, reason, message)
	}
}

// Eventf records through every recorder.
func (t tee) Eventf(obj runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	for _, r := range t {
		r.Eventf(obj, eventtype, reason, messageFmt, args...)
	}
}

// AnnotatedEventf records through every recorder.
func (t tee) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	for _, r := range t {
		r.AnnotatedEventf(obj, annotations, eventtype, reason, messageFmt, args...)
	}
}
