package gitopsd

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/kit/runtime/metrics"
)

// Several gitopsds in one process register on the one process-wide
// registry: the later ones record on the Recorder registered first, whose
// series the metrics endpoint serves.
func TestRegisterMetricsTwice(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	first, second := metrics.NewRecorder(), metrics.NewRecorder()
	got, err := registerMetrics(reg, first)
	if err != nil || got != first {
		t.Fatalf("first registration: %p, %v; want %p", got, err, first)
	}
	got, err = registerMetrics(reg, second)
	if err != nil || got != first {
		t.Fatalf("second registration: %p, %v; want the first Recorder %p", got, err, first)
	}
}

// A registry holding other collectors with the Recorder's metric names is
// an error, not silently shared.
func TestRegisterMetricsConflict(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "gitopskit_suspend_status"}))
	_, err := registerMetrics(reg, metrics.NewRecorder())
	if err == nil {
		t.Fatal("no error for a registry with a conflicting collector")
	}
	if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		t.Errorf("error %v is AlreadyRegistered, want a conflict", err)
	}
}
