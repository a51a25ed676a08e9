package source

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/repo"
)

// BenchmarkHelmChartFromLargeIndex measures what a HelmChart of a
// HelmRepository with a ~50 MB index costs when the index is new (the
// cache is empty at each iteration): the index artifact downloaded from
// the artifact server, parsed, the version selected, the chart downloaded
// from the repository, loaded and packaged. peak-heap-MB is the heap in
// use above the heap before the iteration, sampled every millisecond.
func BenchmarkHelmChartFromLargeIndex(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	srv := helmtest.NewServer(b, dir)
	srv.AddChart(b, helmtest.WriteChart(b, b.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}))
	small := string(readFileB(b, filepath.Join(dir, "index.yaml")))
	var large bytes.Buffer
	st, err := helmtest.WriteLargeIndex(&large, helmtest.LargeIndexOptions{Bytes: 50 << 20, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	// The real chart's entries first, then the synthetic ones.
	own := small[strings.Index(small, "entries:\n")+len("entries:\n") : strings.Index(small, "generated:")]
	rest := large.String()[strings.Index(large.String(), "entries:\n")+len("entries:\n"):]
	index := "apiVersion: v1\nentries:\n" + own + rest
	file := filepath.Join(b.TempDir(), "index.yaml")
	if err := os.WriteFile(file, []byte(index), 0o644); err != nil {
		b.Fatal(err)
	}
	large.Reset()

	as := artifacttest.NewServer(b)
	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	a, err := as.Storage().Store(ctx, storage.Key{Kind: helmRepositoryStorageKind, Namespace: "bench", Name: "charts"}, "index.yaml", f, "")
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	a.Revision = string(a.Digest)
	rc, err := repo.New(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("index: %.1f MB, %d charts, %d versions", float64(len(index))/1e6, st.Charts+1, st.Versions+1)
	index = ""
	r := &HelmChartReconciler{Fetcher: fetch.New()}
	b.ReportAllocs()
	b.ResetTimer()
	var peak float64
	for i := 0; b.Loop(); i++ {
		r.IndexCache = NewIndexCache()
		work := b.TempDir()
		peak = max(peak, peakHeapMB(func() {
			ch, err := r.chartFromIndex(ctx, rc, a, "app", "*", work)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := chart.PackageFile(ctx, ch, filepath.Join(work, "out.tgz"), chart.PackageOptions{}); err != nil {
				b.Fatal(err)
			}
		}))
	}
	b.ReportMetric(peak, "peak-heap-MB")
	b.ReportMetric(float64(*a.Size)/1e6, "index-MB")
}

func readFileB(b *testing.B, path string) []byte {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// peakHeapMB runs f and returns the highest HeapInuse seen while it ran,
// above the HeapInuse before it, in MB.
func peakHeapMB(f func()) float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	peak.Store(base)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	f()
	close(stop)
	<-done
	return float64(peak.Load()-base) / 1e6
}
