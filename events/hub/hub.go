package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/kit/events"
)

// Defaults of the hub's options.
const (
	DefaultWorkers    = 4
	DefaultQueueSize  = 256
	DefaultAttempts   = 3
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
	DefaultTimeout    = 15 * time.Second
	DefaultStateSize  = 10000
)

// Server timeouts and header bound of Server.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 256 << 10
)

// Hub receives events, matches them against alerts and dispatches
// notifications to providers, never more than the no-spam rules allow. It
// is an http.Handler; Start runs its delivery workers.
type Hub struct {
	alerts  Alerts
	opts    options
	rules   *rules
	metrics *metrics
	queues  []chan job

	startOnce sync.Once
}

// Option configures New.
type Option func(*options)

type options struct {
	workers, queueSize, attempts, stateSize int
	backoff, maxBackoff, timeout            time.Duration
	limits                                  events.Limits
	clock                                   func() time.Time
	labels                                  LabelsFunc
	prefix                                  string
}

// WithWorkers sets how many deliveries run at once (default 4). An
// object's notifications under one alert always go to the same worker, in
// order.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithQueueSize bounds each worker's queue (default 256); a notification
// that finds its queue full is dropped and counted (failed, queue_full).
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// WithRetries sets the attempts per notification (default 3) and the
// backoff between them: initial (default 1s), doubling up to max (30s).
func WithRetries(attempts int, initial, max time.Duration) Option {
	return func(o *options) { o.attempts, o.backoff, o.maxBackoff = attempts, initial, max }
}

// WithTimeout sets the per-attempt timeout of alerts without their own
// (default 15s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithLimits bounds the events the HTTP handler accepts (events.Limits;
// 3 MiB by default).
func WithLimits(l events.Limits) Option { return func(o *options) { o.limits = l } }

// WithStateSize bounds the no-spam memory: how many (alert, object) states
// and how many commit statuses are remembered (default 10,000 each, least
// recently used forgotten first). A forgotten failing object's next
// failure notifies again, as a new one.
func WithStateSize(n int) Option { return func(o *options) { o.stateSize = n } }

// WithClock sets the clock of the no-spam rules (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithLabels sets how the labels of an event's object are read, for
// sources with MatchLabels.
func WithLabels(f LabelsFunc) Option { return func(o *options) { o.labels = f } }

// WithPrefix sets the metric name prefix (default "gitopskit").
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// New returns a hub that asks alerts which alerts an event may match.
func New(alerts Alerts, opts ...Option) *Hub {
	o := options{
		workers: DefaultWorkers, queueSize: DefaultQueueSize, attempts: DefaultAttempts,
		backoff: DefaultBackoff, maxBackoff: DefaultMaxBackoff, timeout: DefaultTimeout,
		stateSize: DefaultStateSize, clock: time.Now, prefix: "gitopskit",
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.workers = max(o.workers, 1)
	o.queueSize = max(o.queueSize, 1)
	o.attempts = max(o.attempts, 1)
	if o.backoff <= 0 {
		o.backoff = DefaultBackoff
	}
	o.maxBackoff = max(o.maxBackoff, o.backoff)
	h := &Hub{alerts: alerts, opts: o, rules: newRules(o.stateSize), metrics: newMetrics(o.prefix)}
	for range o.workers {
		h.queues = append(h.queues, make(chan job, o.queueSize))
	}
	return h
}

// Start runs the delivery workers until ctx is done; notifications still
// queued or in flight then are dropped. The workers log through ctx's
// logger. It implements controller-runtime's manager.Runnable; call it
// once.
func (h *Hub) Start(ctx context.Context) error {
	started := false
	h.startOnce.Do(func() { started = true })
	if !started {
		return errors.New("hub already started")
	}
	var wg sync.WaitGroup
	for _, q := range h.queues {
		wg.Go(func() { h.work(ctx, q) })
	}
	wg.Wait()
	return nil
}

// Describe implements prometheus.Collector.
func (h *Hub) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range h.metrics.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (h *Hub) Collect(ch chan<- prometheus.Metric) {
	for _, c := range h.metrics.collectors() {
		c.Collect(ch)
	}
}

// Register registers the hub's series on reg (controller-runtime's
// metrics.Registry in a controller, a fresh registry in tests):
//
//	<prefix>_events_hub_received_total{result}
//	<prefix>_events_hub_matched_total{provider}
//	<prefix>_events_hub_delivered_total{provider}
//	<prefix>_events_hub_failed_total{provider,reason}
//	<prefix>_events_hub_suppressed_total{provider,reason}
//	<prefix>_events_hub_delivery_duration_seconds{provider}
func (h *Hub) Register(reg prometheus.Registerer) error { return reg.Register(h) }

// Submit matches one event against the alerts and queues what the rules
// let through. It returns only when the alerts cannot be read; delivery
// happens on the workers. The event is not modified.
func (h *Hub) Submit(ctx context.Context, e *events.Event) error {
	alerts, err := h.alerts.Alerts(ctx, e)
	if err != nil {
		return fmt.Errorf("listing alerts: %w", err)
	}
	if len(alerts) == 0 {
		return nil
	}
	log := logr.FromContextOrDiscard(ctx)
	var (
		labelsRead bool
		labels     map[string]string
		labelsOK   bool
	)
	getLabels := func() (map[string]string, bool) {
		if !labelsRead {
			labelsRead = true
			if h.opts.labels != nil {
				l, err := h.opts.labels(ctx, e.InvolvedObject)
				if err != nil {
					log.Error(err, "reading the labels of the event's object", "object", e.ObjectKey())
				} else {
					labels, labelsOK = l, true
				}
			}
		}
		return labels, labelsOK
	}
	// Match outside the lock: reading labels may wait on a cache.
	type candidate struct {
		alert *Alert
		pass  bool
	}
	var cands []candidate
	for _, a := range alerts {
		if a == nil {
			continue
		}
		if err := a.Validate(); err != nil {
			log.Error(err, "skipping alert")
			continue
		}
		if a.matchSource(e, getLabels) {
			cands = append(cands, candidate{a, a.passFilters(e)})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	now := h.opts.clock()
	csOnly := commitStatusOnly(e)
	// Decide and enqueue under one lock, so that one object's
	// notifications are queued in the order they were decided.
	h.rules.mu.Lock()
	defer h.rules.mu.Unlock()
	for _, c := range cands {
		a := c.alert
		var d decision
		if _, ok := a.Provider.(events.CommitStatusProvider); ok {
			d = h.rules.decideCommitStatus(a, e, c.pass)
		} else if csOnly {
			d = decision{matched: c.pass, reason: SuppressedCommitStatusOnly}
		} else {
			d = h.rules.decide(a, e, now, c.pass)
		}
		if !d.matched {
			continue
		}
		label := a.providerLabel()
		h.metrics.matched.WithLabelValues(label).Inc()
		if d.n == nil {
			h.metrics.suppressed.WithLabelValues(label, d.reason).Inc()
			continue
		}
		h.enqueue(job{alert: a, n: d.n}, a.ID+"\x00"+e.ObjectKey())
	}
	return nil
}

// ServeHTTP accepts one event per POST, in Flux's JSON: 202 when accepted
// (matched or not), 400 when malformed, 413 when over the size limit, 405
// for another method, 500 when the alerts cannot be read (the sender
// should retry).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	limits := h.opts.limits
	if limits.MaxBytes == 0 {
		limits.MaxBytes = events.DefaultMaxBytes
	}
	if limits.MaxBytes > 0 {
		r.Body = http.MaxBytesReader(w, r.Body, limits.MaxBytes+1)
	}
	e, err := events.Decode(r.Body, limits)
	switch {
	case errors.Is(err, events.ErrTooLarge):
		h.metrics.received.WithLabelValues(ResultTooLarge).Inc()
		http.Error(w, "event too large", http.StatusRequestEntityTooLarge)
		return
	case errors.Is(err, events.ErrInvalid):
		h.metrics.received.WithLabelValues(ResultInvalid).Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		// The body could not be read (a client that stalled or vanished).
		h.metrics.received.WithLabelValues(ResultInvalid).Inc()
		http.Error(w, "reading the event failed", http.StatusBadRequest)
		return
	}
	if err := h.Submit(r.Context(), e); err != nil {
		h.metrics.received.WithLabelValues(ResultError).Inc()
		logr.FromContextOrDiscard(r.Context()).Error(err, "event not processed", "object", e.ObjectKey())
		http.Error(w, "alerts unavailable", http.StatusInternalServerError)
		return
	}
	h.metrics.received.WithLabelValues(ResultAccepted).Inc()
	w.WriteHeader(http.StatusAccepted)
}

// Server returns an *http.Server serving the hub on addr with bounded
// header and body reads, write and idle timeouts and a header size limit.
func (h *Hub) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
