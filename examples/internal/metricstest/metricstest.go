package metricstest

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is a set of gathered or scraped metric families.
type Families []*dto.MetricFamily

// Gather returns g's families.
func Gather(g prometheus.Gatherer) (Families, error) {
	return g.Gather()
}

// Parse reads a Prometheus text exposition, as served on /metrics.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing the metrics exposition: %w", err)
	}
	return slices.Collect(maps.Values(m)), nil
}

// Value returns the value of the series of family name whose labels include
// every one of labels — a gauge's or counter's value, a histogram's sample
// count — and whether there is one. With several matches it returns the
// first.
func (fs Families) Value(name string, labels map[string]string) (float64, bool) {
	for _, f := range fs {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			if v, ok := value(m); ok {
				return v, true
			}
		}
	}
	return 0, false
}

// Count returns how many series of every family carry all of labels.
func (fs Families) Count(labels map[string]string) int {
	n := 0
	for _, f := range fs {
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				n++
			}
		}
	}
	return n
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(want)
}

// Sum returns the sum of the values (as Value reads them) of every series
// of family name.
func (fs Families) Sum(name string) float64 {
	sum := 0.0
	for _, f := range fs {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			v, _ := value(m)
			sum += v
		}
	}
	return sum
}

// value is a gauge's or counter's value, a histogram's sample count.
func value(m *dto.Metric) (float64, bool) {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount()), true
	case m.Untyped != nil:
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// PanicFamilies are the counters of recovered reconcile panics: the
// Lifecycle's (runtime/metrics) and controller-runtime's own.
var PanicFamilies = []string{"gitopskit_reconcile_panics_total", "controller_runtime_reconcile_panics_total"}

// NoPanics returns an error when g counts any recovered reconcile panic,
// so a test suite can fail on a panic that its assertions did not see.
func NoPanics(g prometheus.Gatherer) error {
	fs, err := Gather(g)
	if err != nil {
		return err
	}
	for _, name := range PanicFamilies {
		if n := fs.Sum(name); n > 0 {
			return fmt.Errorf("%s = %v: a reconcile panicked", name, n)
		}
	}
	return nil
}
