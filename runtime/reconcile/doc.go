// Package reconcile holds what every gitopskit reconciler does the same way
// around its own work: reconcile requests made through annotations, the
// predicate that filters events, suspension, requeue jitter, and turning the
// outcome into conditions and a controller-runtime result.
//
//	func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
//		obj := &v1.Thing{}
//		if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
//			return ctrl.Result{}, client.IgnoreNotFound(err)
//		}
//		if reconcile.Skip(obj) { // suspended
//			return ctrl.Result{}, nil
//		}
//		helper, err := patch.NewHelper(obj, r.Client)
//		if err != nil {
//			return ctrl.Result{}, err
//		}
//		defer func() {
//			if v := recover(); v != nil { // a panic is a failure, never a success
//				err = reconcile.FromPanic(v)
//			}
//			res, err = reconcile.Result(obj, err, reconcile.ResultOptions{
//				Interval: obj.Spec.Interval.Duration, RetryInterval: obj.Spec.RetryInterval.Duration,
//			})
//			err = errors.Join(err, helper.Patch(ctx, obj, patch.Options{ObservedGeneration: true,
//				OwnedConditions: []string{conditions.Ready, conditions.Reconciling, conditions.Stalled}}))
//		}()
//		return ctrl.Result{}, r.reconcile(ctx, obj)
//	}
//
// A request is made by setting RequestedAtAnnotation to a new value; the
// request is recorded in status.lastHandledReconcileAt once handled, and
// ForceAtAnnotation / ResetAtAnnotation count only when equal to it.
package reconcile
