package gogit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
const benchRepoVersion = "v3" // v3: packed by git repack

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

// procStats is what a child process cost: wall time, CPU time (user and
// system, which the machine's load hardly changes) and peak resident
// memory.
type procStats struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // KiB
}

// inProcess runs job in a child process of its own (see TestMain): a
// Clone or Export, whose peak memory is its VmHWM, or the git CLI, whose
// peak memory is that of its largest process (git, git-remote-http,
// index-pack).
func inProcess(b *testing.B, job childJob) procStats {
	b.Helper()
	if job.Dir == "" {
		job.Dir = b.TempDir()
	}
	spec, err := json.Marshal(job)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	st := procStats{wall: time.Since(start)}
	var rep childReport
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err != nil || json.Unmarshal([]byte(lines[len(lines)-1]), &rep) != nil || rep.Err != "" {
		b.Fatalf("%s %v: %v\n%s", job.Op, job.Args, err, out.String())
	}
	st.maxRSS = rep.HWMKB
	st.cpu = time.Duration(rep.CPUNS)
	return st
}

// gitJob runs the git CLI with no user or system configuration.
func gitJob(dir string, args ...string) childJob {
	return childJob{Op: "exec", Dir: dir, Args: append([]string{"git"}, args...),
		Env: []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_TERMINAL_PROMPT=0"}}
}

func (s procStats) add(o procStats) procStats {
	return procStats{wall: s.wall + o.wall, cpu: s.cpu + o.cpu, maxRSS: s.maxRSS + o.maxRSS}
}

func (s procStats) mean(n int) procStats {
	return procStats{wall: s.wall / time.Duration(n), cpu: s.cpu / time.Duration(n), maxRSS: s.maxRSS / int64(n)}
}

func report(b *testing.B, prefix string, s procStats) {
	b.ReportMetric(s.wall.Seconds(), prefix+"-s")
	b.ReportMetric(s.cpu.Seconds(), prefix+"-cpu-s")
	b.ReportMetric(float64(s.maxRSS)/1024, prefix+"-peak-RSS-MiB")
}

// BenchmarkGit measures, against gittest (git http-backend) on a
// 2,000-commit, 5,000-file repository, in one run so the figures compare:
// a fresh shallow clone by gogit and by the git CLI (time and peak memory,
// each in a process of its own), an update after 1 and after 10 new
// commits through the kept cache (time and pack bytes received) and the
// git CLI's fetch --depth 1 of the same commits, and the no-op check.
func BenchmarkGit(b *testing.B) {
	srv, repo := benchRepo(b)
	proxy := newCountingProxy(b, srv)
	url := proxy.URL + "/big.git"
	ctx := context.Background()
	commits := 0
	newCommits := func(n int) {
		for range n {
			commits++
			repo.Commit("main", "one more", map[string]string{
				fmt.Sprintf("dir%02d/file%04d.txt", commits%50, commits%benchFiles): fmt.Sprintf("changed %d\n", commits),
				fmt.Sprintf("dir00/new%d.txt", commits):                             "x",
			})
		}
	}

	// Each iteration runs both, alternating which goes first, and the
	// figures are the means: on a shared machine the load moves.
	b.Run("ShallowClone", func(b *testing.B) {
		var gogitStats, cliStats procStats
		i := 0
		for b.Loop() {
			gogitRun := func() { gogitStats = gogitStats.add(inProcess(b, childJob{Op: "clone", URL: url})) }
			cliRun := func() {
				cliStats = cliStats.add(inProcess(b, gitJob(b.TempDir(), "clone", "--quiet", "--depth", "1", url, "c")))
			}
			if i%2 == 0 {
				gogitRun()
				cliRun()
			} else {
				cliRun()
				gogitRun()
			}
			i++
		}
		gogitStats, cliStats = gogitStats.mean(b.N), cliStats.mean(b.N)
		report(b, "gogit", gogitStats)
		report(b, "git-cli", cliStats)
		b.ReportMetric(gogitStats.wall.Seconds()/cliStats.wall.Seconds(), "time-vs-cli-x")
		b.ReportMetric(gogitStats.cpu.Seconds()/cliStats.cpu.Seconds(), "cpu-vs-cli-x")
		b.ReportMetric(float64(gogitStats.maxRSS)/float64(cliStats.maxRSS), "memory-vs-cli-x")
	})

	cache, err := gogit.NewCache(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	c, err := gogit.New(url, gogit.WithCache(cache))
	if err != nil {
		b.Fatal(err)
	}
	exportDir := filepath.Join(b.TempDir(), "export")
	if _, err := c.Export(ctx, exportDir, gogit.CloneOptions{}); err != nil {
		b.Fatal(err)
	}
	cliDir := filepath.Join(b.TempDir(), "cli")
	inProcess(b, gitJob(".", "clone", "--quiet", "--depth", "1", url, cliDir))
	fresh := func(b *testing.B) time.Duration {
		start := time.Now()
		if _, err := c.Clone(ctx, filepath.Join(b.TempDir(), "fresh"), gogit.CloneOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("UpdateAfter%dCommits", n), func(b *testing.B) {
			var update, cliFetch, freshClone time.Duration
			var bytes, cliBytes int64
			for b.Loop() {
				b.StopTimer()
				newCommits(n)
				b.StartTimer()
				proxy.bytes.Store(0)
				start := time.Now()
				if _, err := c.Export(ctx, exportDir, gogit.CloneOptions{}); err != nil {
					b.Fatal(err)
				}
				update += time.Since(start)
				bytes += proxy.bytes.Load()
				b.StopTimer()
				proxy.bytes.Store(0)
				cliFetch += inProcess(b, gitJob(cliDir, "fetch", "--quiet", "--depth", "1", "origin", "main")).wall
				cliBytes += proxy.bytes.Load()
				freshClone += fresh(b)
				b.StartTimer()
			}
			k := float64(b.N)
			b.ReportMetric(update.Seconds()/k, "update-s")
			b.ReportMetric(float64(bytes)/k, "update-bytes")
			b.ReportMetric(cliFetch.Seconds()/k, "git-cli-fetch-s")
			b.ReportMetric(float64(cliBytes)/k, "git-cli-fetch-bytes")
			b.ReportMetric(freshClone.Seconds()/k, "fresh-clone-s")
			b.ReportMetric(freshClone.Seconds()/update.Seconds(), "speedup-vs-fresh-clone-x")
		})
	}

	b.Run("NoOpCheck", func(b *testing.B) {
		rev, err := c.Resolve(ctx, git.Reference{Branch: "main"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			res, err := c.Export(ctx, exportDir, gogit.CloneOptions{Reference: git.Reference{Branch: "main"}, LastRevision: rev})
			if err != nil || !res.Unchanged {
				b.Fatal(err, res)
			}
		}
	})
}
