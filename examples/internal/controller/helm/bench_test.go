package helm

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
)

// BenchmarkValuesChangeToReleased measures, per iteration, a values
// change — a new value in a ConfigMap of valuesFrom labelled WatchLabel,
// as a Kustomization applying it from git would write it — until the
// HelmRelease is Ready with the upgraded revision: the watch event, the
// values composed, the upgrade (waited for) and the status.
func BenchmarkValuesChangeToReleased(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	cm := &corev1.ConfigMap{}
	cm.Namespace, cm.Name = f.ns, "bench-values"
	cm.Labels = map[string]string{WatchLabel: WatchLabelValue}
	cm.Data = map[string]string{"values.yaml": "greeting: v0\n"}
	if err := f.c.Create(ctx, cm); err != nil {
		b.Fatal(err)
	}
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("bench", "app", func(h *helmv1.HelmRelease) {
		h.Spec.ValuesFrom = []helmv1.ValuesReference{{Kind: "ConfigMap", Name: "bench-values"}}
	})
	f.waitReady(hr, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		cm.Data["values.yaml"] = fmt.Sprintf("greeting: v%d\n", i+1)
		if err := f.c.Update(ctx, cm); err != nil {
			b.Fatal(err)
		}
		f.waitReady(hr, i+2)
	}
}

// BenchmarkReleasesOfOneChart measures N HelmReleases of one chart,
// created together, until every one is Ready (the chart is downloaded
// and loaded once, then shared), and the process's peak resident memory
// (the reconciler runs in it; the API server does not).
func BenchmarkReleasesOfOneChart(b *testing.B) {
	for _, n := range []int{10, 40, 100} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			f := newFixture(b)
			f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				hrs := make([]*helmv1.HelmRelease, n)
				for j := range n {
					hrs[j] = f.helmRelease(fmt.Sprintf("r%d-%d", i, j), "app", nil)
				}
				for _, hr := range hrs {
					f.waitFor(hr, "Ready", func(h *helmv1.HelmRelease) bool {
						return conditions.IsReady(h) && h.Status.Latest() != nil
					})
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/release")
			if hwm, ok := peakRSS(); ok {
				b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
			}
		})
	}
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS() (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
