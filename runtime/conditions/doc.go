// Package conditions reads and writes the metav1.Conditions of an object's
// status the way kstatus expects them.
//
// A controller marks the conditions it owns as it works, then calls Summarize
// to compute Ready from them:
//
//	conditions.MarkReconciling(obj, conditions.ProgressingReason, "fetching %s", url)
//	...
//	conditions.MarkFalse(obj, "SourceVerified", "InvalidSignature", "commit %s: %v", rev, err)
//	conditions.Summarize(obj, conditions.Summary{Owned: []string{"SourceVerified"}})
//
// The conventions, shared with Flux and understood by kstatus:
//
//   - Ready is always present; True means the current generation reconciled.
//   - Reconciling and Stalled have negative polarity and are present only while
//     True: Reconciling while work (or a retry) is under way, Stalled when the
//     controller cannot progress without a change from outside.
//   - Every condition records the generation it was computed for.
//
// Check reports a condition set that breaks these rules or that kstatus would
// read differently from what Ready says.
//
// Typed objects implement Setter with GetConditions and SetConditions; for
// unstructured objects, wrap them with Unstructured.
package conditions
