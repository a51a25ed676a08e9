package bucket_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/buckettest"
)

// The benchmark bucket: 5,000 objects of 10,000 bytes (50 MB) in 50
// folders, plus a .sourceignore.
const (
	benchObjects    = 5000
	benchObjectSize = 10_000
)

func benchServer(b *testing.B) *buckettest.Server {
	b.Helper()
	srv := buckettest.NewServer(b)
	srv.CreateBucket(b, "bench")
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, benchObjectSize)
	for i := range benchObjects {
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		srv.PutObject(b, "bench", fmt.Sprintf("apps/d%02d/obj-%05d.yaml", i%50, i), data)
	}
	srv.PutObject(b, "bench", "apps/.sourceignore", []byte("*.md\n"))
	return srv
}

// BenchmarkSync lists and downloads the whole bucket into a fresh folder,
// in process, at several concurrencies (MB/s of objects).
func BenchmarkSync(b *testing.B) {
	srv := benchServer(b)
	for _, conc := range []int{4, bucket.DefaultConcurrency, 32} {
		b.Run(fmt.Sprintf("concurrency-%d", conc), func(b *testing.B) {
			c := newClient(b, srv)
			b.SetBytes(benchObjects * benchObjectSize)
			i := 0
			for b.Loop() {
				l, err := c.List(context.Background(), "bench", bucket.ListOptions{})
				if err != nil {
					b.Fatal(err)
				}
				dst := filepath.Join(b.TempDir(), strconv.Itoa(i))
				if err := c.Fetch(context.Background(), l, dst, bucket.FetchOptions{Concurrency: conc}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkSyncChildRSS runs one sync per iteration in a child process
// (this test binary, TestBenchSyncChild) against the server in this one,
// and reports the child's peak resident set — VmHWM of /proc/self/status
// read by the child when done, Go runtime included (getrusage's ru_maxrss
// would not do: it keeps the parent's high-water mark across the
// vfork+exec of os/exec) — and the sync's wall time.
func BenchmarkSyncChildRSS(b *testing.B) {
	srv := benchServer(b)
	var rss, wall float64
	n := 0
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBenchSyncChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BUCKET_BENCH_ENDPOINT="+srv.Endpoint(), "BUCKET_BENCH_DIR="+filepath.Join(b.TempDir(), "out"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "sync-ms "); ok {
				ms, _ := strconv.ParseFloat(v, 64)
				wall += ms
			}
			if v, ok := strings.CutPrefix(line, "vmhwm-kib "); ok {
				kib, _ := strconv.ParseFloat(v, 64)
				rss += kib / 1024
			}
		}
		n++
	}
	b.ReportMetric(rss/float64(n), "peak-rss-MiB")
	b.ReportMetric(wall/float64(n), "sync-ms")
}

// TestBenchSyncChild is BenchmarkSyncChildRSS's child: it does nothing
// unless that benchmark started it.
func TestBenchSyncChild(t *testing.T) {
	endpoint := os.Getenv("BUCKET_BENCH_ENDPOINT")
	if endpoint == "" {
		return
	}
	c, err := bucket.New(endpoint, bucket.WithInsecure(true), bucket.WithRegion(buckettest.DefaultRegion))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l, err := c.List(context.Background(), "bench", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(context.Background(), l, os.Getenv("BUCKET_BENCH_DIR"), bucket.FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("sync-ms %.1f\n", float64(time.Since(start).Microseconds())/1000)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("vmhwm-kib %s\n", strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
}

// BenchmarkUnchanged lists the unchanged bucket with the previous listing:
// what a reconcile costs when nothing changed (requests/op: the listing's
// pages, 1,000 keys each; downloads/op: none).
func BenchmarkUnchanged(b *testing.B) {
	srv := benchServer(b)
	c := newClient(b, srv)
	prev, err := c.List(context.Background(), "bench", bucket.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	srv.ResetRequests()
	n := 0
	for b.Loop() {
		l, err := c.List(context.Background(), "bench", bucket.ListOptions{Previous: prev})
		if err != nil {
			b.Fatal(err)
		}
		if l.Revision != prev.Revision {
			b.Fatal("revision moved")
		}
		n++
	}
	b.ReportMetric(float64(len(srv.Requests()))/float64(n), "requests/op")
	b.ReportMetric(float64(srv.Count("GetObject"))/float64(n), "downloads/op")
}
