package recorder

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/gitopskit/kit/events"
)

// EventTypeTrace is the event type of a trace event: recorded as a Normal
// Kubernetes Event, never posted to the hub. Flux spells it the same.
const EventTypeTrace = "Trace"

// Recorder records events about objects: a Kubernetes Event, and, when a
// hub is set, the same event posted to it in Flux's JSON. It implements
// client-go's record.EventRecorder, so it drops into a reconciler that
// already records events. No call blocks: posting happens on a worker
// from a bounded queue. It is safe for concurrent use.
type Recorder struct {
	controller string
	instance   string
	scheme     *runtime.Scheme
	kube       record.EventRecorder
	// broadcaster is ours to shut down (WithKubeConfig).
	broadcaster record.EventBroadcaster
	hub         string
	client      *http.Client
	opts        options
	metrics     *metrics
	log         logr.Logger

	queue chan *events.Event
	stop  chan struct{} // closed by Close: drain, then exit
	abort context.CancelFunc
	done  chan struct{}

	mu     sync.RWMutex
	closed bool
}

var _ record.EventRecorder = (*Recorder)(nil)

// New returns a recorder for the named controller (reportingController).
// Its worker posts to the hub until Close, or until ctx is done; it logs
// through ctx's logger.
func New(ctx context.Context, controller string, opts ...Option) (*Recorder, error) {
	if controller == "" {
		return nil, errors.New("recorder: controller name is required")
	}
	o := options{
		queueSize: DefaultQueueSize, attempts: DefaultAttempts, backoff: DefaultBackoff,
		maxBackoff: DefaultMaxBackoff, postTimeout: DefaultPostTimeout, prefix: "gitopskit",
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.queueSize = max(o.queueSize, 1)
	o.attempts = max(o.attempts, 1)
	if o.backoff <= 0 {
		o.backoff = DefaultBackoff
	}
	o.maxBackoff = max(o.maxBackoff, o.backoff)
	if o.postTimeout <= 0 {
		o.postTimeout = DefaultPostTimeout
	}
	if o.instance == "" {
		o.instance, _ = os.Hostname()
	}
	if o.scheme == nil {
		o.scheme = runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(o.scheme); err != nil {
			return nil, fmt.Errorf("recorder: building the scheme: %w", err)
		}
	}
	if o.hub != "" {
		u, err := url.Parse(o.hub)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("recorder: the hub address must be an http or https URL")
		}
	}
	r := &Recorder{
		controller: controller,
		instance:   o.instance,
		scheme:     o.scheme,
		kube:       o.kubeRecorder,
		hub:        o.hub,
		client:     o.httpClient,
		opts:       o,
		log:        logr.FromContextOrDiscard(ctx).WithName("event-recorder"),
		queue:      make(chan *events.Event, o.queueSize),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if r.client == nil {
		r.client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	r.metrics = newMetrics(o.prefix, func() float64 { return float64(len(r.queue)) })
	if r.kube == nil && o.kubeConfig != nil {
		c, err := corev1client.NewForConfig(o.kubeConfig)
		if err != nil {
			return nil, fmt.Errorf("recorder: building the events client: %w", err)
		}
		r.broadcaster = record.NewBroadcaster(record.WithCorrelatorOptions(o.correlator), record.WithContext(ctx))
		r.broadcaster.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: c.Events("")})
		r.kube = r.broadcaster.NewRecorder(o.scheme, corev1.EventSource{Component: controller, Host: o.instance}).WithLogger(r.log)
	}
	wctx, cancel := context.WithCancel(ctx)
	r.abort = cancel
	go r.work(wctx)
	return r, nil
}

// Close stops accepting events, posts those still queued until ctx is done
// (the rest are dropped and counted), and shuts down the Kubernetes event
// broadcaster it owns.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	var err error
	select {
	case <-r.done:
	case <-ctx.Done():
		r.abort()
		<-r.done
		err = ctx.Err()
	}
	r.abort()
	if r.broadcaster != nil {
		// Shutdown waits for the events already handed to the broadcaster.
		shut := make(chan struct{})
		go func() { r.broadcaster.Shutdown(); close(shut) }()
		select {
		case <-shut:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	return err
}

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	r.metrics.posted.Describe(ch)
	r.metrics.dropped.Describe(ch)
	r.metrics.queue.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.metrics.posted.Collect(ch)
	r.metrics.dropped.Collect(ch)
	r.metrics.queue.Collect(ch)
}

// Register registers the recorder's series on reg:
//
//	<prefix>_events_recorder_posted_total
//	<prefix>_events_recorder_dropped_total{reason}
//	<prefix>_events_recorder_queue_length
func (r *Recorder) Register(reg prometheus.Registerer) error { return reg.Register(r) }
