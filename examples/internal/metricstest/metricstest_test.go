package metricstest_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/kit/examples/internal/metricstest"
)

func TestParseAndGather(t *testing.T) {
	t.Parallel()
	const text = `# TYPE g gauge
g{kind="A",name="x"} 1
g{kind="A",name="y"} 0
# TYPE h histogram
h_bucket{name="x",le="+Inf"} 3
h_sum{name="x"} 0.5
h_count{name="x"} 3
`
	parsed, err := metricstest.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g"}, []string{"kind", "name"})
	g.WithLabelValues("A", "x").Set(1)
	g.WithLabelValues("A", "y").Set(0)
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h"}, []string{"name"})
	for range 3 {
		h.WithLabelValues("x").Observe(0.1)
	}
	reg.MustRegister(g, h)
	gathered, err := metricstest.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
		ok     bool
	}{
		{"g", map[string]string{"name": "x"}, 1, true},
		{"g", map[string]string{"kind": "A", "name": "y"}, 0, true},
		{"g", map[string]string{"name": "z"}, 0, false},
		{"g", map[string]string{"kind": "B"}, 0, false},
		{"h", map[string]string{"name": "x"}, 3, true},
		{"nope", nil, 0, false},
	} {
		for from, fams := range map[string]metricstest.Families{"parsed": parsed, "gathered": gathered} {
			if v, ok := fams.Value(tc.name, tc.labels); v != tc.want || ok != tc.ok {
				t.Errorf("%s: Value(%s, %v) = %v, %v; want %v, %v", from, tc.name, tc.labels, v, ok, tc.want, tc.ok)
			}
		}
	}
	for from, fams := range map[string]metricstest.Families{"parsed": parsed, "gathered": gathered} {
		if n := fams.Count(map[string]string{"name": "x"}); n != 2 {
			t.Errorf("%s: Count(name=x) = %d, want 2", from, n)
		}
	}
}

func TestSumAndNoPanics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gitopskit_reconcile_panics_total"}, []string{"name"})
	reg.MustRegister(c)
	c.WithLabelValues("a")
	if err := metricstest.NoPanics(reg); err != nil {
		t.Fatalf("a zero counter: %v", err)
	}
	c.WithLabelValues("a").Inc()
	c.WithLabelValues("b").Add(2)
	fams, err := metricstest.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := fams.Sum("gitopskit_reconcile_panics_total"); got != 3 {
		t.Errorf("Sum = %v, want 3", got)
	}
	if err := metricstest.NoPanics(reg); err == nil {
		t.Error("NoPanics accepts counted panics")
	}
}
