package hub

import "github.com/prometheus/client_golang/prometheus"

// Label names of the hub's series.
const (
	LabelProvider = "provider"
	LabelReason   = "reason"
	LabelResult   = "result"
)

// Values of the received series' result label.
const (
	ResultAccepted = "accepted"
	ResultInvalid  = "invalid"
	ResultTooLarge = "too_large"
	ResultError    = "error"
)

// Values of the failed series' reason label.
const (
	FailedDelivery  = "delivery"
	FailedQueueFull = "queue_full"
)

type metrics struct {
	received   *prometheus.CounterVec
	matched    *prometheus.CounterVec
	delivered  *prometheus.CounterVec
	failed     *prometheus.CounterVec
	suppressed *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

func newMetrics(prefix string) *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: prefix, Subsystem: "events_hub", Name: name, Help: help}, labels)
	}
	return &metrics{
		received:   counter("received_total", "Events posted to the hub, by result: accepted, invalid, too_large, error.", LabelResult),
		matched:    counter("matched_total", "Events that matched an alert, by the alert's provider.", LabelProvider),
		delivered:  counter("delivered_total", "Notifications a provider accepted.", LabelProvider),
		failed:     counter("failed_total", "Notifications not delivered, by reason: delivery (retries exhausted or a permanent error), queue_full.", LabelProvider, LabelReason),
		suppressed: counter("suppressed_total", "Matched events that sent nothing, by reason: repeat, commit_status_unchanged, no_revision, commit_status_only.", LabelProvider, LabelReason),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: prefix, Subsystem: "events_hub", Name: "delivery_duration_seconds",
			Help:    "Time from a notification's first attempt to its delivery or failure, retries included.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{LabelProvider}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.received, m.matched, m.delivered, m.failed, m.suppressed, m.duration}
}
