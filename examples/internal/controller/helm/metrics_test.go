package helm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/internal/metricstest"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
)

// TestHelmReleaseMetrics: a HelmRelease has its runtime/metrics series
// (conditions, suspension, durations), a corrected drift is counted, and
// the series go with the object.
func TestHelmReleaseMetrics(t *testing.T) {
	f := newFixture(t)
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("metrics", "app", func(h *helmv1.HelmRelease) {
		h.Spec.DriftDetection = &helmv1.DriftDetection{Mode: "enabled"}
	})
	f.waitReady(hr, 1)
	series := func(extra ...string) map[string]string {
		l := map[string]string{"kind": helmv1.HelmReleaseKind, "name": hr.Name, "namespace": hr.Namespace}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	f.wantMetric("gitopskit_reconcile_condition", series("type", "Ready", "status", "True"), 1)
	f.wantMetric("gitopskit_reconcile_condition", series("type", "Released", "status", "True"), 1)
	f.wantMetric("gitopskit_suspend_status", series(), 0)

	cm := f.configMap(f.ns, "metrics-config")
	cm.Data["greeting"] = "edited"
	if err := f.c.Update(context.Background(), cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	f.request(hr, false, false)
	f.wantMetric("gitopskit_drift_corrected_total", series(), 1)

	if err := f.c.Delete(context.Background(), hr); err != nil {
		t.Fatal(err)
	}
	f.waitGone(hr)
	f.eventuallyMetrics("no series left after the deletion", func(fams metricstest.Families) bool {
		return fams.Count(series()) == 0
	})
}

// eventuallyMetrics gathers the reconciler's metrics until ok holds, for up
// to two minutes (a loaded CI machine runs the package's releases in
// parallel under the race detector).
func (f *fixture) eventuallyMetrics(what string, ok func(metricstest.Families) bool) {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
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

// wantMetric waits until the series name with labels has value want.
func (f *fixture) wantMetric(name string, labels map[string]string, want float64) {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	last := "no such series"
	for {
		fams, err := metricstest.Gather(metricsRegistry)
		if err != nil {
			f.t.Fatal(err)
		}
		v, found := fams.Value(name, labels)
		if found && v == want {
			return
		}
		if found {
			last = fmt.Sprint(v)
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("metrics: timed out waiting until %s%v = %v; last seen: %s", name, labels, want, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
