package controller

import (
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/kit/runtime/metrics"
)

// recordMetrics records on rec one reconcile of obj that started at start:
// its duration, then its conditions and suspension as the reconcile left
// them. Once obj is gone — being deleted with finalizer removed — it drops
// every series of obj instead, so deleted objects do not linger in the
// exposition. A nil rec records nothing.
//
// Run defers it right after reading obj, before deferring the status
// write, so that it runs after that write.
func recordMetrics(rec *metrics.Recorder, obj Reconciled, finalizer string, start time.Time) {
	if rec == nil {
		return
	}
	rec.RecordDuration(obj, start)
	if obj.GetDeletionTimestamp() != nil && !controllerutil.ContainsFinalizer(obj, finalizer) {
		rec.Delete(obj)
		return
	}
	rec.RecordConditions(obj, obj.GetConditions())
	rec.RecordSuspended(obj, obj.IsSuspended())
}

// deleteMetrics drops every series of obj from rec when its Get found
// nothing (it went without its finalizer running, or the finalizer was
// removed by hand). Only obj's name and namespace need be set. A nil rec
// records nothing.
func deleteMetrics(rec *metrics.Recorder, obj client.Object) {
	if rec != nil {
		rec.Delete(obj)
	}
}
