package metrics

import (
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The label names of the series.
const (
	LabelKind      = "kind"
	LabelName      = "name"
	LabelNamespace = "namespace"
	LabelType      = "type"
	LabelStatus    = "status"
)

// defaultBuckets are the reconcile duration buckets, in seconds: 10ms to
// about 5 minutes, doubling.
var defaultBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68}

var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// Recorder records reconcile metrics. It is a prometheus.Collector and safe
// for concurrent use.
type Recorder struct {
	duration  *prometheus.HistogramVec
	condition *prometheus.GaugeVec
	suspended *prometheus.GaugeVec
	panics    *prometheus.CounterVec
	drift     *prometheus.CounterVec
	scheme    *runtime.Scheme

	// types remembers the condition types recorded per object, so that a
	// type that disappears from an object's status loses its series.
	mu    sync.Mutex
	types map[objectKey]map[string]struct{}
}

type objectKey struct{ kind, namespace, name string }

// Option configures NewRecorder.
type Option func(*options)

type options struct {
	prefix  string
	buckets []float64
	scheme  *runtime.Scheme
}

// WithPrefix sets the metric name prefix (the Prometheus namespace). The
// default is "gitopskit"; Flux dashboards expect "gotk".
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithBuckets sets the reconcile duration histogram's buckets, in seconds.
// The default runs from 10ms to about 5.5 minutes, doubling each time.
func WithBuckets(buckets ...float64) Option {
	return func(o *options) { o.buckets = append([]float64(nil), buckets...) }
}

// WithScheme sets the scheme used to find the kind of typed objects whose
// TypeMeta is empty (as after a Get with a typed client). Without it, or for
// types it does not know, the kind is the Go type's name, which by
// convention is the kind.
func WithScheme(s *runtime.Scheme) Option { return func(o *options) { o.scheme = s } }

// NewRecorder returns a Recorder. Register it before use.
func NewRecorder(opts ...Option) *Recorder {
	o := options{prefix: "gitopskit", buckets: defaultBuckets}
	for _, opt := range opts {
		opt(&o)
	}
	objLabels := []string{LabelKind, LabelName, LabelNamespace}
	return &Recorder{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: o.prefix,
			Name:      "reconcile_duration_seconds",
			Help:      "The duration in seconds of an object's reconciliations.",
			Buckets:   o.buckets,
		}, objLabels),
		condition: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: o.prefix,
			Name:      "reconcile_condition",
			Help:      "The status of an object's conditions: 1 for the current status of each type, 0 for the others.",
		}, append(objLabels, LabelType, LabelStatus)),
		suspended: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: o.prefix,
			Name:      "suspend_status",
			Help:      "Whether an object's reconciliation is suspended: 1 if it is, 0 otherwise.",
		}, objLabels),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: o.prefix,
			Name:      "reconcile_panics_total",
			Help:      "The number of an object's reconciliations that panicked and were recovered.",
		}, objLabels),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: o.prefix,
			Name:      "drift_corrected_total",
			Help:      "The number of an object's applied objects found changed behind the controller's back and corrected.",
		}, objLabels),
		scheme: o.scheme,
		types:  map[objectKey]map[string]struct{}{},
	}
}

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	r.duration.Describe(ch)
	r.condition.Describe(ch)
	r.suspended.Describe(ch)
	r.panics.Describe(ch)
	r.drift.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.duration.Collect(ch)
	r.condition.Collect(ch)
	r.suspended.Collect(ch)
	r.panics.Collect(ch)
	r.drift.Collect(ch)
}

// Register registers the Recorder's collectors on reg. Controllers pass
// sigs.k8s.io/controller-runtime/pkg/metrics.Registry, the registry the
// manager's metrics endpoint serves (or call RegisterDefault); tests pass a
// fresh prometheus.NewRegistry().
func (r *Recorder) Register(reg prometheus.Registerer) error { return reg.Register(r) }

// RegisterDefault registers the Recorder on controller-runtime's registry,
// sigs.k8s.io/controller-runtime/pkg/metrics.Registry.
func (r *Recorder) RegisterDefault() error { return r.Register(ctrlmetrics.Registry) }

// RecordDuration observes the time since start as one reconciliation of obj.
func (r *Recorder) RecordDuration(obj client.Object, start time.Time) {
	r.duration.WithLabelValues(r.labels(obj)...).Observe(time.Since(start).Seconds())
}

// RecordConditions sets the condition series of obj to conds: for each type,
// 1 for its status and 0 for the other statuses. Types recorded earlier and
// absent from conds lose their series.
func (r *Recorder) RecordConditions(obj client.Object, conds []metav1.Condition) {
	lv := r.labels(obj)
	key := objectKey{kind: lv[0], name: lv[1], namespace: lv[2]}
	now := make(map[string]struct{}, len(conds))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range conds {
		now[c.Type] = struct{}{}
		for _, s := range conditionStatuses {
			v := 0.0
			if c.Status == s {
				v = 1
			}
			r.condition.WithLabelValues(lv[0], lv[1], lv[2], c.Type, string(s)).Set(v)
		}
	}
	for t := range r.types[key] {
		if _, ok := now[t]; !ok {
			r.condition.DeletePartialMatch(prometheus.Labels{
				LabelKind: lv[0], LabelName: lv[1], LabelNamespace: lv[2], LabelType: t,
			})
		}
	}
	if len(now) == 0 {
		delete(r.types, key)
		return
	}
	r.types[key] = now
}

// RecordSuspended sets the suspension series of obj.
func (r *Recorder) RecordSuspended(obj client.Object, suspended bool) {
	v := 0.0
	if suspended {
		v = 1
	}
	r.suspended.WithLabelValues(r.labels(obj)...).Set(v)
}

// RecordPanic counts one reconciliation of obj that panicked and was
// recovered. A controller in good health never records one: alert on any
// increase.
func (r *Recorder) RecordPanic(obj client.Object) {
	r.panics.WithLabelValues(r.labels(obj)...).Inc()
}

// RecordDriftCorrected counts n objects that obj's reconcile found changed
// behind its back (a kubectl edit, a deletion) and put back.
func (r *Recorder) RecordDriftCorrected(obj client.Object, n int) {
	if n > 0 {
		r.drift.WithLabelValues(r.labels(obj)...).Add(float64(n))
	}
}

// Delete drops every series of obj. Call it when the object is gone (its
// Get returned NotFound, or its finalizer ran): only its kind, name and
// namespace are read.
func (r *Recorder) Delete(obj client.Object) {
	lv := r.labels(obj)
	match := prometheus.Labels{LabelKind: lv[0], LabelName: lv[1], LabelNamespace: lv[2]}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.duration.DeletePartialMatch(match)
	r.condition.DeletePartialMatch(match)
	r.suspended.DeletePartialMatch(match)
	r.panics.DeletePartialMatch(match)
	r.drift.DeletePartialMatch(match)
	delete(r.types, objectKey{kind: lv[0], name: lv[1], namespace: lv[2]})
}

// labels returns kind, name and namespace.
func (r *Recorder) labels(obj client.Object) []string {
	return []string{r.kind(obj), obj.GetName(), obj.GetNamespace()}
}

func (r *Recorder) kind(obj client.Object) string {
	if k := obj.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	if r.scheme != nil {
		if gvk, err := apiutil.GVKForObject(obj, r.scheme); err == nil {
			return gvk.Kind
		}
	}
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
