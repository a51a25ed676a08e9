package artifact_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/archive"
	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/artifact/internal/benchtree"
	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/artifact/untar"
)

// benchDir holds the generated trees and archives; TestMain removes it.
var benchDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

type fixture struct {
	name     string
	tree     string
	treeSize int64
	tarball  string // archive built with one worker
	tarSize  int64
	digest   artifact.Digest
}

var (
	fixturesOnce sync.Once
	fixtures     []*fixture
	fixturesErr  error
)

// benchFixtures generates the trees and their reference archives once per
// process, so -benchtime=1x stays quick.
func benchFixtures(b *testing.B) []*fixture {
	b.Helper()
	fixturesOnce.Do(func() {
		dir, err := os.MkdirTemp("", "artifact-bench-")
		if err != nil {
			fixturesErr = err
			return
		}
		benchDir = dir
		gens := []struct {
			name string
			gen  func(string) (int64, error)
		}{
			{"yaml-10k-files", func(d string) (int64, error) { return benchtree.YAMLTree(d, 10_000) }},
			{"mixed-200MB", func(d string) (int64, error) { return benchtree.MixedTree(d, 100<<20, 100<<20) }},
		}
		for _, g := range gens {
			f := &fixture{name: g.name, tree: filepath.Join(dir, g.name)}
			if f.treeSize, err = g.gen(f.tree); err != nil {
				fixturesErr = err
				return
			}
			f.tarball = filepath.Join(dir, g.name+".tar.gz")
			out, err := os.Create(f.tarball)
			if err != nil {
				fixturesErr = err
				return
			}
			res, err := archive.Build(context.Background(), out, f.tree, archive.Options{Workers: 1})
			out.Close()
			if err != nil {
				fixturesErr = err
				return
			}
			f.tarSize, f.digest = res.Size, res.Digest
			fixtures = append(fixtures, f)
		}
	})
	if fixturesErr != nil {
		b.Fatal(fixturesErr)
	}
	return fixtures
}

// baselineArchive is the obvious alternative: one goroutine, archive/tar,
// compress/gzip at its default level and sha256 over the output.
func baselineArchive(w io.Writer, root string) (artifact.Digest, error) {
	h := sha256.New()
	zw := gzip.NewWriter(io.MultiWriter(w, h))
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755})
		case d.Type().IsRegular():
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: fi.Size()}); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	return artifact.NewDigest(artifact.SHA256, h), err
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func BenchmarkArchive(b *testing.B) {
	for _, f := range benchFixtures(b) {
		b.Run(f.name+"/gitopskit", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(f.treeSize)
			hs := benchtree.StartHeapSampler()
			cpu := benchtree.CPUTime()
			for b.Loop() {
				res, err := archive.Build(context.Background(), io.Discard, f.tree, archive.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if res.Digest != f.digest {
					b.Fatalf("digest %s differs from the one-worker build %s", res.Digest, f.digest)
				}
			}
			b.ReportMetric(float64(benchtree.CPUTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(hs.StopMB(), "peak-heap-MB")
			b.ReportMetric(float64(f.treeSize)/float64(f.tarSize), "ratio")
		})
		b.Run(f.name+"/stdlib-baseline", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(f.treeSize)
			hs := benchtree.StartHeapSampler()
			cpu := benchtree.CPUTime()
			var out countingDiscard
			for b.Loop() {
				out.n = 0
				if _, err := baselineArchive(&out, f.tree); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(benchtree.CPUTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(hs.StopMB(), "peak-heap-MB")
			b.ReportMetric(float64(f.treeSize)/float64(out.n), "ratio")
		})
	}
}

func BenchmarkUntar(b *testing.B) {
	limits := untar.Options{MaxBytes: 1 << 30, MaxEntries: 100_000}
	for _, f := range benchFixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(f.treeSize)
			hs := benchtree.StartHeapSampler()
			var spent time.Duration // CPU inside the timed call only
			for i := 0; b.Loop(); i++ {
				in, err := os.Open(f.tarball)
				if err != nil {
					b.Fatal(err)
				}
				dst := filepath.Join(benchDir, fmt.Sprintf("untar-%s-%d", f.name, i))
				c0 := benchtree.CPUTime()
				_, err = untar.Extract(context.Background(), in, dst, limits)
				spent += benchtree.CPUTime() - c0
				in.Close()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dst)
				b.StartTimer()
			}
			b.ReportMetric(float64(spent)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(hs.StopMB(), "peak-heap-MB")
		})
	}
}

func BenchmarkFetch(b *testing.B) {
	for _, f := range benchFixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			srv := artifacttest.NewServer(b)
			in, err := os.Open(f.tarball)
			if err != nil {
				b.Fatal(err)
			}
			a, err := srv.Storage().Store(context.Background(), storage.Key{Kind: "bench", Namespace: "ns", Name: f.name}, "a.tar.gz", in, "")
			in.Close()
			if err != nil {
				b.Fatal(err)
			}
			fe := fetch.New(fetch.WithMaxDownloadSize(1<<30), fetch.WithUntarOptions(untar.Options{MaxBytes: 1 << 30, MaxEntries: 100_000}))
			b.ReportAllocs()
			b.SetBytes(f.tarSize)
			hs := benchtree.StartHeapSampler()
			var spent time.Duration // CPU inside the timed call only
			for i := 0; b.Loop(); i++ {
				dst := filepath.Join(benchDir, fmt.Sprintf("fetch-%s-%d", f.name, i))
				c0 := benchtree.CPUTime()
				if _, err := fe.Fetch(context.Background(), a, dst); err != nil {
					b.Fatal(err)
				}
				spent += benchtree.CPUTime() - c0
				b.StopTimer()
				os.RemoveAll(dst)
				b.StartTimer()
			}
			b.ReportMetric(float64(spent)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(hs.StopMB(), "peak-heap-MB")
		})
	}
}

// The trees must hold what the benchmark names promise.
func BenchmarkFixtureSizes(b *testing.B) {
	for _, f := range benchFixtures(b) {
		n, err := benchtree.Size(f.tree)
		if err != nil || n != f.treeSize {
			b.Fatalf("%s: %d bytes on disk, %d generated (%v)", f.name, n, f.treeSize, err)
		}
		b.Logf("%s: %.1f MB in, %.1f MB archived", f.name, float64(n)/1e6, float64(f.tarSize)/1e6)
	}
	for b.Loop() {
	}
}
