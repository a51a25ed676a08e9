package hub

import (
	"context"
	"errors"
	"hash/fnv"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/kit/events"
)

// job is one notification to deliver.
type job struct {
	alert *Alert
	n     *events.Notification
}

// enqueue hands j to the worker of its object, so one object's
// notifications under one alert are delivered in the order decided. It
// never blocks: a full queue drops the notification and counts it.
func (h *Hub) enqueue(j job, key string) {
	f := fnv.New32a()
	f.Write([]byte(key))
	q := h.queues[int(f.Sum32()%uint32(len(h.queues)))]
	select {
	case q <- j:
	default:
		h.metrics.failed.WithLabelValues(j.alert.providerLabel(), FailedQueueFull).Inc()
	}
}

// work delivers the jobs of one queue until ctx is done.
func (h *Hub) work(ctx context.Context, q chan job) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-q:
			h.deliver(ctx, j)
		}
	}
}

// deliver posts one notification, retrying errors that are not permanent
// with exponential backoff, each attempt bounded by the alert's timeout.
func (h *Hub) deliver(ctx context.Context, j job) {
	log := logr.FromContextOrDiscard(ctx).WithValues("alert", j.alert.ID, "provider", j.alert.providerLabel(),
		"object", j.n.Event.ObjectKey(), "kind", string(j.n.Kind))
	label := j.alert.providerLabel()
	timeout := j.alert.Timeout
	if timeout <= 0 {
		timeout = h.opts.timeout
	}
	start := time.Now()
	backoff := h.opts.backoff
	var err error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err = j.alert.Provider.Post(actx, j.n)
		cancel()
		if err == nil {
			h.metrics.delivered.WithLabelValues(label).Inc()
			h.metrics.duration.WithLabelValues(label).Observe(time.Since(start).Seconds())
			log.V(1).Info("notification delivered", "attempts", attempt)
			return
		}
		if errors.Is(err, events.ErrPermanent) || attempt >= h.opts.attempts || ctx.Err() != nil {
			break
		}
		log.V(1).Info("notification failed, retrying", "attempt", attempt, "error", err.Error(), "after", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			err = errors.Join(err, ctx.Err())
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		backoff = min(2*backoff, h.opts.maxBackoff)
	}
	h.metrics.failed.WithLabelValues(label, FailedDelivery).Inc()
	h.metrics.duration.WithLabelValues(label).Observe(time.Since(start).Seconds())
	// Provider errors carry no credential (see the providers package).
	log.Error(err, "notification not delivered")
}
