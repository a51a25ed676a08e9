package gitopsd

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitopskit/kit/events/recorder"
)

// eventsShutdown bounds how long a stopping gitopsd keeps posting the
// events still queued for the hub.
const eventsShutdown = 5 * time.Second

// newEventRecorder returns the recorder every reconciler records through:
// Kubernetes Events (aggregated by client-go's correlator) and, with hub
// set, the same events posted to it. It is closed, its queue drained for
// at most eventsShutdown, when the manager stops.
func newEventRecorder(mgr manager.Manager, cfg *rest.Config, scheme *runtime.Scheme, hub string) (*recorder.Recorder, error) {
	opts := []recorder.Option{recorder.WithKubeConfig(cfg), recorder.WithScheme(scheme)}
	if hub != "" {
		opts = append(opts, recorder.WithHub(hub))
	}
	rec, err := recorder.New(context.Background(), Name, opts...)
	if err != nil {
		return nil, fmt.Errorf("event recorder: %w", err)
	}
	// A second gitopsd in one process (tests) finds the series registered:
	// the first recorder's stay.
	_ = rec.Register(ctrlmetrics.Registry)
	err = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		closeCtx, cancel := context.WithTimeout(context.Background(), eventsShutdown)
		defer cancel()
		if err := rec.Close(closeCtx); err != nil {
			logr.FromContextOrDiscard(ctx).Info("events still queued for the hub were dropped", "error", err.Error())
		}
		return nil
	}))
	if err != nil {
		return nil, fmt.Errorf("event recorder: %w", err)
	}
	return rec, nil
}
