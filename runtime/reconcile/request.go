package reconcile

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// Annotations that ask a controller to reconcile an object now. A tool sets
// RequestedAtAnnotation to a fresh value (a timestamp, by convention); the
// controller reconciles and records the value in
// status.lastHandledReconcileAt. ForceAtAnnotation and ResetAtAnnotation
// take effect only when equal to RequestedAtAnnotation, so that a stale force
// or reset can never be replayed by a later plain request.
const (
	RequestedAtAnnotation = "reconcile.gitopskit.dev/requestedAt"
	ForceAtAnnotation     = "reconcile.gitopskit.dev/forceAt"
	ResetAtAnnotation     = "reconcile.gitopskit.dev/resetAt"
)

// Request is the reconcile request an object's annotations carry.
type Request struct {
	RequestedAt string
	ForceAt     string
	ResetAt     string
}

// GetRequest reads the reconcile request from obj's annotations. ok is false
// when no request was ever made.
func GetRequest(obj metav1.Object) (r Request, ok bool) {
	a := obj.GetAnnotations()
	r = Request{RequestedAt: a[RequestedAtAnnotation], ForceAt: a[ForceAtAnnotation], ResetAt: a[ResetAtAnnotation]}
	return r, r.RequestedAt != ""
}

// Force reports whether the request asks for a forced reconcile (for example
// re-applying immutable fields by recreation).
func (r Request) Force() bool { return r.RequestedAt != "" && r.ForceAt == r.RequestedAt }

// Reset reports whether the request asks to reset failure counters and retry
// from scratch.
func (r Request) Reset() bool { return r.RequestedAt != "" && r.ResetAt == r.RequestedAt }

// Pending reports whether the request has not been handled yet, given the
// value recorded in status.lastHandledReconcileAt.
func (r Request) Pending(lastHandled string) bool {
	return r.RequestedAt != "" && r.RequestedAt != lastHandled
}

// RequestStatus is implemented by objects whose status records the last
// handled reconcile request (status.lastHandledReconcileAt).
type RequestStatus interface {
	GetLastHandledReconcileAt() string
	SetLastHandledReconcileAt(string)
}

// MarkHandled records obj's current reconcile request as handled. It returns
// the request so the caller can act on Force and Reset.
func MarkHandled(obj interface {
	metav1.Object
	RequestStatus
}) Request {
	r, ok := GetRequest(obj)
	if ok {
		obj.SetLastHandledReconcileAt(r.RequestedAt)
	}
	return r
}

// Suspender is implemented by objects that can be suspended (spec.suspend).
type Suspender interface {
	IsSuspended() bool
}

// Skip reports whether a reconcile should stop before doing any work because
// the object is suspended. A suspended object that is being deleted is not
// skipped: its finalizer must still run.
func Skip(obj client.Object) bool {
	s, ok := obj.(Suspender)
	return ok && s.IsSuspended() && obj.GetDeletionTimestamp() == nil
}

// GenerationOrRequestChanged is a predicate that lets through creations,
// deletions, and updates that change the spec (metadata.generation), ask for a
// reconcile (a new RequestedAtAnnotation value) or start a deletion. Status-
// only updates, including the controller's own, are filtered out.
func GenerationOrRequestChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return false
			}
			if e.ObjectNew.GetGeneration() != e.ObjectOld.GetGeneration() {
				return true
			}
			if e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil {
				return true
			}
			oldReq, _ := GetRequest(e.ObjectOld)
			newReq, ok := GetRequest(e.ObjectNew)
			return ok && newReq.RequestedAt != oldReq.RequestedAt
		},
	}
}
