// Package metrics exports the Prometheus metrics every gitopskit controller
// shares: how long reconciles take, the status of each condition, whether
// an object is suspended and how often its reconcile panicked, labelled with the object's kind, name and
// namespace.
//
// One Recorder serves a whole binary (its metric names can be registered once
// per registry) and any number of kinds. Register it on controller-runtime's
// registry, which the manager's metrics endpoint serves:
//
//	rec := metrics.NewRecorder(metrics.WithScheme(scheme))
//	if err := rec.Register(ctrlmetrics.Registry); err != nil { ... }
//
//	func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
//		start := time.Now()
//		obj := &v1.GitRepository{}
//		if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
//			if apierrors.IsNotFound(err) {
//				r.Metrics.Delete(&v1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace}})
//			}
//			return ctrl.Result{}, client.IgnoreNotFound(err)
//		}
//		defer func() {
//			r.Metrics.RecordDuration(obj, start)
//			r.Metrics.RecordConditions(obj, obj.Status.Conditions)
//			r.Metrics.RecordSuspended(obj, obj.Spec.Suspend)
//		}()
//		...
//	}
//
// The series (with the default prefix "gitopskit"):
//
//	gitopskit_reconcile_duration_seconds{kind,name,namespace}     histogram
//	gitopskit_reconcile_condition{kind,name,namespace,type,status} 1 for the current status, 0 for the others
//	gitopskit_suspend_status{kind,name,namespace}                  1 when suspended
//	gitopskit_reconcile_panics_total{kind,name,namespace}          reconciles that panicked (RecordPanic)
//	gitopskit_drift_corrected_total{kind,name,namespace}           applied objects corrected after a change behind our back
//
// Delete drops every series of an object, so deleted objects do not linger
// in the exposition.
package metrics
