// Package patch writes what a reconcile changed in an object back to the API
// server without losing what others wrote meanwhile.
//
//	helper, err := patch.NewHelper(obj, c)
//	...
//	defer func() {
//		err = errors.Join(err, helper.Patch(ctx, obj, patch.Options{
//			OwnedConditions:    []string{conditions.Ready, conditions.Reconciling, conditions.Stalled},
//			ObservedGeneration: true,
//		}))
//	}()
//
// Metadata and spec go in one merge patch, the status subresource in another;
// nothing is sent for an unchanged part. Finalizers and conditions, which a
// merge patch would replace as whole lists, are written under an optimistic
// lock and rebuilt on the latest copy after a conflict: a finalizer another
// controller added, or a condition another writer owns, is never lost.
// Finalizers are changed on obj with controllerutil.AddFinalizer and
// RemoveFinalizer before Patch.
package patch
