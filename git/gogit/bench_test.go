package gogit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

const (
	benchFiles   = 5000
	benchCommits = 2000
	benchFileLen = 10 << 10 // 5,000 × 10 KiB ≈ 50 MB of content
)

// benchRepoVersion names the generator: change it whenever benchRepo's
// output would change, so a cached repository of the old shape is not reused.
const benchRepoVersion = "v2"

// benchRepo serves the benchmark repository: benchCommits commits over
// benchFiles files. Generating it takes about a minute, so it is built once
// and kept under os.TempDir(), in a folder named by a hash of its
// parameters; later runs serve a copy of it (objects hard-linked). A run
// builds into a private folder and renames it into place, so concurrent
// runs never see a half-built repository (nor `go clean` state: remove
// the folder to rebuild it).
func benchRepo(b *testing.B) (*gittest.Server, *gittest.Repository) {
	b.Helper()
	key := sha256.Sum256(fmt.Appendf(nil, "gitopskit git bench %s files=%d commits=%d size=%d seed=1,2",
		benchRepoVersion, benchFiles, benchCommits, benchFileLen))
	cached := filepath.Join(os.TempDir(), "gitopskit-git-bench-"+hex.EncodeToString(key[:8]))
	srv := gittest.NewServer(b)
	if _, err := os.Stat(filepath.Join(cached, "HEAD")); err == nil {
		return srv, srv.ImportRepository("big.git", cached)
	}
	start := time.Now()
	gen := gittest.NewServer(b)
	genRepo := gen.InitRepository("big.git")
	generateBenchRepo(genRepo)
	genRepo.Pack()
	b.Logf("generated %d commits × %d files in %s", benchCommits, benchFiles, time.Since(start))
	// A private copy, renamed into place in one step.
	kept := gittest.NewServer(b).ImportRepository("kept.git", filepath.Join(gen.Root(), "big.git"))
	if err := os.Rename(kept.Dir(), cached); err != nil {
		b.Logf("not keeping the benchmark repository: %v", err) // another run was first
	}
	return srv, srv.ImportRepository("big.git", filepath.Join(gen.Root(), "big.git"))
}

func generateBenchRepo(repo *gittest.Repository) {
	rng := rand.New(rand.NewPCG(1, 2))
	content := func() string {
		buf := make([]byte, benchFileLen)
		for i := range buf {
			buf[i] = byte('a' + rng.IntN(26))
		}
		return string(buf)
	}
	files := make(map[string]string, benchFiles)
	for i := range benchFiles {
		files[fmt.Sprintf("dir%02d/file%04d.txt", i%50, i)] = content()
	}
	repo.Commit("main", "initial", files)
	for i := 1; i < benchCommits; i++ {
		repo.Commit("main", fmt.Sprintf("change %d", i), map[string]string{
			fmt.Sprintf("dir%02d/file%04d.txt", i%50, rng.IntN(benchFiles)): content(),
		})
	}
}

// peakHeap samples the heap while f runs and returns the peak in MB.
func peakHeap(f func()) float64 {
	runtime.GC() // start from the live heap, not earlier garbage
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	return float64(peak.Load()) / (1 << 20)
}

func BenchmarkGit(b *testing.B) {
	srv, repo := benchRepo(b)
	ctx := context.Background()
	url := srv.HTTPURL("big.git")
	c, err := gogit.New(url)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("NoOpCheck", func(b *testing.B) {
		rev, err := c.Resolve(ctx, git.Reference{Branch: "main"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			res, err := c.Clone(ctx, b.TempDir(), gogit.CloneOptions{Reference: git.Reference{Branch: "main"}, LastRevision: rev})
			if err != nil || !res.Unchanged {
				b.Fatal(err, res)
			}
		}
	})

	b.Run("GitCLIShallowClone", func(b *testing.B) {
		if _, err := exec.LookPath("git"); err != nil {
			b.Skip("git CLI not installed")
		}
		for b.Loop() {
			dir := filepath.Join(b.TempDir(), "c")
			cmd := exec.Command("git", "clone", "--quiet", "--depth", "1", url, dir)
			cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+b.TempDir())
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})

	// Incremental: a warm cache holding the previous revision, one new
	// commit (one file changed, one added), then Export.
	cache, err := gogit.NewCache(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cc, err := gogit.New(url, gogit.WithCache(cache))
	if err != nil {
		b.Fatal(err)
	}
	exportDir := filepath.Join(b.TempDir(), "export")
	warm := sync.OnceFunc(func() { // only when an incremental benchmark runs
		if _, err := cc.Export(ctx, exportDir, gogit.CloneOptions{}); err != nil {
			b.Fatal(err)
		}
	})
	commits := 0
	newCommit := func() {
		commits++
		repo.Commit("main", "one more", map[string]string{
			"dir00/file0000.txt":                    fmt.Sprintf("changed %d\n", commits),
			fmt.Sprintf("dir00/new%d.txt", commits): "x",
		})
	}
	// The measure: Export updating the previous export in place,
	// versus a fresh shallow clone (Clone, depth 1, with a worktree) of the
	// same revision, timed in the same iteration so the ratio compares like
	// with like. The fresh clone is also the shallow-clone figure.
	b.Run("IncrementalVsFreshClone", func(b *testing.B) {
		warm()
		b.ReportAllocs()
		var inc, fresh time.Duration
		var peak, freshPeak float64
		for b.Loop() {
			b.StopTimer()
			newCommit()
			b.StartTimer()
			peak = max(peak, peakHeap(func() {
				start := time.Now()
				if _, err := cc.Export(ctx, exportDir, gogit.CloneOptions{}); err != nil {
					b.Fatal(err)
				}
				inc += time.Since(start)
			}))
			dir := filepath.Join(b.TempDir(), "c")
			freshPeak = max(freshPeak, peakHeap(func() {
				start := time.Now()
				if _, err := c.Clone(ctx, dir, gogit.CloneOptions{}); err != nil {
					b.Fatal(err)
				}
				fresh += time.Since(start)
			}))
		}
		n := float64(b.N)
		b.ReportMetric(inc.Seconds()/n, "incremental-s")
		b.ReportMetric(fresh.Seconds()/n, "fresh-clone-s")
		b.ReportMetric(fresh.Seconds()/inc.Seconds(), "speedup-x")
		b.ReportMetric(peak, "incremental-peak-heap-MB")
		b.ReportMetric(freshPeak, "fresh-clone-peak-heap-MB")
	})
	// Export through the warm cache into a new folder: the fetch is as
	// small, but every file is written.
	b.Run("IncrementalNewFolder", func(b *testing.B) {
		warm()
		b.ReportAllocs()
		var peak float64
		for b.Loop() {
			b.StopTimer()
			newCommit()
			dir := filepath.Join(b.TempDir(), "e")
			b.StartTimer()
			peak = max(peak, peakHeap(func() {
				if _, err := cc.Export(ctx, dir, gogit.CloneOptions{}); err != nil {
					b.Fatal(err)
				}
			}))
		}
		b.ReportMetric(peak, "peak-heap-MB")
	})
}
