package kustomize

import (
	"fmt"
	"testing"
	"time"

	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// BenchmarkRevisionToApplied measures how long a new source revision takes
// to be applied (Ready at that revision, observed by polling every 5ms),
// when the source's watch announces it and, for comparison, when a
// reconcile request announces it (the source watch cannot, since the
// source does not change: the artifact URL is swapped behind its back).
// The Kustomization's interval is an hour, so neither comes from polling.
func BenchmarkRevisionToApplied(b *testing.B) {
	b.Run("source-watch", func(b *testing.B) {
		f := newFixture(b)
		a := f.artifact("app", map[string]string{"a.yaml": cm("a", "n", "v0")})
		src := f.gitRepository("app", &a)
		ks := f.kustomization("app", "app", nil)
		f.waitReady(ks, a.Revision)
		b.ReportAllocs()
		var total time.Duration
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			next := f.artifact("app", map[string]string{"a.yaml": cm("a", "n", fmt.Sprintf("v%d", i+1))})
			b.StartTimer()
			start := time.Now()
			f.setArtifact(src, next)
			f.waitReady(ks, next.Revision)
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/revision")
	})
	b.Run("reconcile-request", func(b *testing.B) {
		f := newFixture(b)
		a := f.artifact("app", map[string]string{"a.yaml": cm("a")})
		f.gitRepository("app", &a)
		ks := f.kustomization("app", "app", nil)
		f.waitReady(ks, a.Revision)
		b.ReportAllocs()
		var total time.Duration
		for b.Loop() {
			start := time.Now()
			at := start.Format(time.RFC3339Nano)
			f.update(ks, func(k *kustomizev1.Kustomization) {
				if k.Annotations == nil {
					k.Annotations = map[string]string{}
				}
				k.Annotations[reconcile.RequestedAtAnnotation] = at
			})
			f.waitFor(ks, "request handled", func(k *kustomizev1.Kustomization) bool {
				return k.Status.LastHandledReconcileAt == at
			})
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/request")
	})
}
