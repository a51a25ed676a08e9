package repo

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	repov1 "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/gitopskit/kit/helmutil/helmtest"
)

var (
	benchIndexOnce sync.Once
	benchIndexPath string
	benchIndexErr  error
	benchIndexDir  string
)

// benchIndex writes the synthetic index once per process: HELMUTIL_BENCH_INDEX_MB
// (default 100) MiB in Helm's layout, with absolute URLs as public
// repositories have.
func benchIndex(b *testing.B) (string, helmtest.LargeIndexStats) {
	var st helmtest.LargeIndexStats
	benchIndexOnce.Do(func() {
		mb := int64(100)
		if v, err := strconv.ParseInt(os.Getenv("HELMUTIL_BENCH_INDEX_MB"), 10, 64); err == nil && v > 0 {
			mb = v
		}
		dir, err := os.MkdirTemp("", "helmutil-bench-")
		benchIndexDir = dir // removed by TestMain
		if err != nil {
			benchIndexErr = err
			return
		}
		benchIndexPath = filepath.Join(dir, "index.yaml")
		f, err := os.Create(benchIndexPath)
		if err != nil {
			benchIndexErr = err
			return
		}
		st, benchIndexErr = helmtest.WriteLargeIndex(f, helmtest.LargeIndexOptions{Bytes: mb << 20, BaseURL: "https://charts.example.com/stable"})
		if err := f.Close(); err != nil && benchIndexErr == nil {
			benchIndexErr = err
		}
	})
	if benchIndexErr != nil {
		b.Fatal(benchIndexErr)
	}
	return benchIndexPath, st
}

// peakHeap samples HeapInuse every millisecond while f runs and returns the
// peak above the heap in use before the call, in MB. Both sides of a
// comparison are measured by this same function.
func peakHeap(f func()) float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
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
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > peak.Load() {
		peak.Store(ms.HeapInuse)
	}
	close(stop)
	<-done
	p := peak.Load()
	if p < base {
		return 0
	}
	return float64(p-base) / 1e6
}

// BenchmarkParseIndex parses a 100 MB generated index with ParseIndex and
// with Helm's repo.LoadIndexFile, in the same run: time per parse, the peak
// heap during it, and what the result keeps (heap after the parse, result
// still referenced).
func BenchmarkParseIndex(b *testing.B) {
	path, _ := benchIndex(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, parse func() (any, int)) {
		b.SetBytes(fi.Size())
		var peak, kept float64
		var n int
		for b.Loop() {
			var res any
			peak = max(peak, peakHeap(func() { res, n = parse() }))
			b.StopTimer()
			kept = retained(res)
			b.StartTimer()
		}
		b.ReportMetric(peak, "peak-heap-MB")
		b.ReportMetric(kept, "kept-MB")
		b.ReportMetric(float64(n), "versions")
	}
	b.Run("gitopskit", func(b *testing.B) {
		run(b, func() (any, int) {
			idx, err := LoadIndexFile(ctx, path, ParseOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return idx, idx.Len()
		})
	})
	b.Run("helm", func(b *testing.B) {
		run(b, func() (any, int) {
			idx, err := repov1.LoadIndexFile(path)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, vs := range idx.Entries {
				n += len(vs)
			}
			return idx, n
		})
	})
}

var sink any

// retained returns the heap in use, in MB, with res alive after a GC,
// minus the heap in use once it is dropped.
func retained(res any) float64 {
	sink = res
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	with := ms.HeapInuse
	sink = nil
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if with < ms.HeapInuse {
		return 0
	}
	return float64(with-ms.HeapInuse) / 1e6
}
