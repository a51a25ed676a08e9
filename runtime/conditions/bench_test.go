package conditions_test

import (
	"testing"

	"github.com/gitopskit/kit/runtime/conditions"
)

// BenchmarkSummarize measures a typical end of reconcile: five owned
// conditions marked, then Ready computed.
func BenchmarkSummarize(b *testing.B) {
	s := conditions.Summary{Owned: []string{"A", "B", "C", "D", "E"}, NegativePolarity: []string{"FetchFailed"}}
	o := &object{generation: 7}
	b.ReportAllocs()
	for b.Loop() {
		conditions.MarkReconciling(o, conditions.ProgressingReason, "working")
		for _, t := range s.Owned {
			conditions.MarkTrue(o, t, "Fine", "ok")
		}
		conditions.Delete(o, conditions.Reconciling)
		conditions.Summarize(o, s)
	}
}
