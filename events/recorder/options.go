package recorder

import (
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// Defaults of the recorder's options.
const (
	DefaultQueueSize   = 1000
	DefaultAttempts    = 4
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultPostTimeout = 5 * time.Second
)

// Option configures New.
type Option func(*options)

type options struct {
	kubeConfig   *rest.Config
	kubeRecorder record.EventRecorder
	correlator   record.CorrelatorOptions
	scheme       *runtime.Scheme
	hub          string
	httpClient   *http.Client
	queueSize    int
	attempts     int
	backoff      time.Duration
	maxBackoff   time.Duration
	postTimeout  time.Duration
	instance     string
	redact       func(string) string
	prefix       string
}

// WithKubeConfig records Kubernetes Events through a client-go event
// broadcaster of the recorder's own, writing with cfg (its QPS and Burst
// bound the writes). Its correlator aggregates: an identical event bumps
// the count of the existing Event, more than ten similar ones within ten
// minutes are combined into one, and at most 25 events per object are
// accepted in a burst, refilling one per five minutes (WithCorrelator
// changes these). Close shuts the broadcaster down.
func WithKubeConfig(cfg *rest.Config) Option {
	return func(o *options) { o.kubeConfig = rest.CopyConfig(cfg) }
}

// WithKubeRecorder records Kubernetes Events through an existing
// recorder, for example a manager's GetEventRecorderFor(name), instead of
// WithKubeConfig.
func WithKubeRecorder(r record.EventRecorder) Option {
	return func(o *options) { o.kubeRecorder = r }
}

// WithCorrelator replaces the correlator options of the broadcaster
// WithKubeConfig creates (client-go's defaults otherwise).
func WithCorrelator(c record.CorrelatorOptions) Option {
	return func(o *options) { o.correlator = c }
}

// WithScheme sets the scheme that finds the kind of typed objects whose
// TypeMeta is empty. Without it, client-go's built-in types are known;
// objects with their TypeMeta set (unstructured ones) always work.
func WithScheme(s *runtime.Scheme) Option { return func(o *options) { o.scheme = s } }

// WithHub posts every event but trace ones to the hub at address (an
// events/hub, or a Flux notification-controller), asynchronously.
func WithHub(address string) Option { return func(o *options) { o.hub = address } }

// WithHTTPClient sets the client that posts to the hub (TLS, a proxy);
// its Timeout, if any, adds to WithPostTimeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithQueueSize bounds the events waiting to be posted (default 1000); an
// event that finds the queue full is dropped and counted.
func WithQueueSize(n int) Option { return func(o *options) { o.queueSize = n } }

// WithRetries sets the attempts per event (default 4) and the backoff
// between them: initial (default 1s), doubling up to max (default 30s).
// A 4xx answer is not retried.
func WithRetries(attempts int, initial, max time.Duration) Option {
	return func(o *options) { o.attempts, o.backoff, o.maxBackoff = attempts, initial, max }
}

// WithPostTimeout bounds each post to the hub (default 5s).
func WithPostTimeout(d time.Duration) Option { return func(o *options) { o.postTimeout = d } }

// WithInstance sets reportingInstance (default: the host name, the pod's
// name in a cluster).
func WithInstance(name string) Option { return func(o *options) { o.instance = name } }

// WithRedactor adds a function applied to every message and metadata
// value before it leaves the recorder, after the built-in masking of
// passwords in URLs ("https://user:***@host").
func WithRedactor(f func(string) string) Option { return func(o *options) { o.redact = f } }

// WithPrefix sets the metric name prefix (default "gitopskit").
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }
