package recorder

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/reference"

	"github.com/gitopskit/kit/events"
)

// Event records an event with a fixed message; eventtype is Normal (info),
// Warning (error) or Trace.
func (r *Recorder) Event(obj runtime.Object, eventtype, reason, message string) {
	r.record(obj, nil, eventtype, reason, message)
}

// Eventf is Event with a formatted message.
func (r *Recorder) Eventf(obj runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.record(obj, nil, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

// AnnotatedEventf records an event with metadata. A key without a '/' is
// prefixed with the object's API group, as Flux controllers write them:
// "revision" on a Kustomization becomes "kustomize.gitopskit.dev/revision"
// (see the events.Meta* keys: revision, originRevision, token, commit…).
// The object's own annotations prefixed with events.Group or
// events.FluxGroup are added too. The metadata becomes the Kubernetes
// Event's annotations (keys that are not valid annotation keys are left
// out there) and the hub event's metadata.
func (r *Recorder) AnnotatedEventf(obj runtime.Object, metadata map[string]string, eventtype, reason, messageFmt string, args ...any) {
	r.record(obj, metadata, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

func severity(eventtype string) string {
	switch eventtype {
	case corev1.EventTypeWarning:
		return events.SeverityError
	case EventTypeTrace:
		return events.SeverityTrace
	}
	return events.SeverityInfo
}

func (r *Recorder) redact(s string) string {
	s = redactURLs(s)
	if r.opts.redact != nil {
		s = r.opts.redact(s)
	}
	return s
}

func (r *Recorder) record(obj runtime.Object, metadata map[string]string, eventtype, reason, message string) {
	sev := severity(eventtype)
	message = events.TruncateMessage(r.redact(message))
	ref, err := reference.GetReference(r.scheme, obj)
	if err != nil {
		r.metrics.dropped.WithLabelValues(DroppedInvalid).Inc()
		r.log.Error(err, "no reference to the event's object; event dropped", "reason", reason)
		return
	}
	md := r.metadata(obj, ref, metadata)
	if r.kube != nil {
		kubeType := eventtype
		if sev != events.SeverityError {
			kubeType = corev1.EventTypeNormal
		}
		r.kube.AnnotatedEventf(obj, annotations(md), kubeType, reason, "%s", message)
	}
	if r.hub == "" || sev == events.SeverityTrace {
		return
	}
	e := &events.Event{
		InvolvedObject:      *ref,
		Severity:            sev,
		Timestamp:           metav1.Now(),
		Message:             message,
		Reason:              reason,
		Metadata:            md,
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
	}
	if err := e.Validate(events.Limits{}); err != nil {
		r.metrics.dropped.WithLabelValues(DroppedInvalid).Inc()
		r.log.Error(err, "event not valid; not posted", "object", e.ObjectKey())
		return
	}
	r.enqueue(e)
}

// metadata combines the caller's metadata, keys prefixed with the
// object's group, and the object's event annotations.
func (r *Recorder) metadata(obj runtime.Object, ref *corev1.ObjectReference, in map[string]string) map[string]string {
	var group string
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
		group = gv.Group
	}
	out := make(map[string]string, len(in))
	if a, ok := obj.(metav1.Object); ok {
		for k, v := range a.GetAnnotations() {
			if strings.HasPrefix(k, events.Group+"/") || strings.HasPrefix(k, events.FluxGroup+"/") {
				out[k] = r.redact(v)
			}
		}
	}
	for k, v := range in {
		if !strings.Contains(k, "/") && group != "" {
			k = group + "/" + k
		}
		out[k] = r.redact(v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// annotations keeps the metadata the API server accepts as annotations.
func annotations(md map[string]string) map[string]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		if len(validation.IsQualifiedName(k)) == 0 {
			out[k] = v
		}
	}
	return out
}

// enqueue hands e to the worker; it never blocks.
func (r *Recorder) enqueue(e *events.Event) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.metrics.dropped.WithLabelValues(DroppedClosed).Inc()
		return
	}
	select {
	case r.queue <- e:
	default:
		r.metrics.dropped.WithLabelValues(DroppedQueueFull).Inc()
	}
}
