package kustomize

import (
	"context"
	"testing"
	"time"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// A Kustomization's reconciles, conditions and suspension are exported as
// metrics, and its series go with it.
func TestMetrics(t *testing.T) {
	f := newFixture(t)
	art := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("app", &art)
	ks := f.kustomization("app", "app", nil)
	f.waitReady(ks, art.Revision)

	f.wantMetric("gitopskit_reconcile_condition", series(ks, "type", "Ready", "status", "True"), 1)
	f.wantMetric("gitopskit_reconcile_condition", series(ks, "type", "Ready", "status", "False"), 0)
	f.wantMetric("gitopskit_suspend_status", series(ks), 0)
	f.eventuallyMetric("gitopskit_reconcile_duration_seconds", series(ks), func(n float64, found bool) bool { return found && n >= 1 })

	if err := f.c.Delete(context.Background(), ks); err != nil {
		t.Fatal(err)
	}
	f.eventuallyMetrics("no series left after the deletion", func(fams metricstest.Families) bool {
		return fams.Count(series(ks)) == 0
	})
}

// series is the gitopskit series of the Kustomization whose labels also
// include extra.
func series(ks *kustomizev1.Kustomization, extra ...string) map[string]string {
	l := map[string]string{"kind": kustomizev1.KustomizationKind, "name": ks.Name, "namespace": ks.Namespace}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// eventuallyMetrics gathers the reconciler's metrics until ok holds, for up
// to a minute.
func (f *fixture) eventuallyMetrics(what string, ok func(metricstest.Families) bool) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		fams, err := metricstest.Gather(metricsRegistry)
		if err != nil {
			f.t.Fatal(err)
		}
		if ok(fams) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("metrics: timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventuallyMetric waits until the series name with labels has a value
// (a histogram's: its sample count) for which ok holds; ok gets false for
// a missing series.
func (f *fixture) eventuallyMetric(name string, labels map[string]string, ok func(v float64, found bool) bool) {
	f.t.Helper()
	f.eventuallyMetrics(name+" as expected", func(fams metricstest.Families) bool {
		return ok(fams.Value(name, labels))
	})
}

// wantMetric waits until the series name with labels has value want.
func (f *fixture) wantMetric(name string, labels map[string]string, want float64) {
	f.t.Helper()
	f.eventuallyMetric(name, labels, func(v float64, found bool) bool { return found && v == want })
}
