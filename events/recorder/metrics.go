package recorder

import "github.com/prometheus/client_golang/prometheus"

// Values of the dropped series' reason label.
const (
	// DroppedQueueFull: the queue was full when the event was recorded.
	DroppedQueueFull = "queue_full"
	// DroppedFailed: every attempt failed (connection refused, timeout, 5xx).
	DroppedFailed = "failed"
	// DroppedRejected: the hub answered 4xx (a Flux notification-controller
	// answers 429 for an event it already has); not retried.
	DroppedRejected = "rejected"
	// DroppedClosed: recorded after Close, or still queued when Close's
	// context ended.
	DroppedClosed = "closed"
	// DroppedInvalid: no reference could be made to the object, or the
	// event does not validate.
	DroppedInvalid = "invalid"
)

type metrics struct {
	posted  prometheus.Counter
	dropped *prometheus.CounterVec
	queue   prometheus.GaugeFunc
}

func newMetrics(prefix string, queueLen func() float64) *metrics {
	return &metrics{
		posted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: prefix, Subsystem: "events_recorder", Name: "posted_total",
			Help: "Events the hub accepted.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: prefix, Subsystem: "events_recorder", Name: "dropped_total",
			Help: "Events not posted to the hub, by reason: queue_full, failed, rejected, closed, invalid.",
		}, []string{"reason"}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: prefix, Subsystem: "events_recorder", Name: "queue_length",
			Help: "Events waiting to be posted to the hub.",
		}, queueLen),
	}
}
