package benchtree

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"time"
)

var words = strings.Fields(`app api web worker cache queue db frontend backend gateway auth billing
search metrics logging ingress service config secret volume replica canary stable prod staging dev
east west north south alpha beta gamma delta`)

// yamlDoc writes a Kubernetes-like manifest of roughly size bytes.
func yamlDoc(rng *rand.Rand, size int) []byte {
	var b strings.Builder
	w := func() string { return words[rng.IntN(len(words))] }
	fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s-%s-%d\n  namespace: %s\n  labels:\n    app.kubernetes.io/name: %s\n    app.kubernetes.io/part-of: %s\n",
		w(), w(), rng.IntN(1000), w(), w(), w())
	b.WriteString("spec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n")
	for b.Len() < size {
		fmt.Fprintf(&b, "        - name: %s-%s\n          image: registry.example.com/%s/%s:v%d.%d.%d\n          env:\n            - name: %s_%s\n              value: \"%x\"\n          resources:\n            limits: {cpu: %dm, memory: %dMi}\n",
			w(), w(), w(), w(), rng.IntN(5), rng.IntN(30), rng.IntN(100), strings.ToUpper(w()), strings.ToUpper(w()), rng.Uint32(), 100*rng.IntN(20), 64*rng.IntN(32))
	}
	return []byte(b.String())
}

// YAMLTree writes files YAML-like manifests of about 4 KiB each into dir,
// spread over subdirectories, and returns the total size.
func YAMLTree(dir string, files int) (int64, error) {
	rng := rand.New(rand.NewPCG(1, 1))
	var total int64
	for i := range files {
		p := filepath.Join(dir, fmt.Sprintf("team-%02d", i%50), fmt.Sprintf("app-%03d", (i/50)%40), fmt.Sprintf("manifest-%05d.yaml", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		data := yamlDoc(rng, 3500+rng.IntN(1200))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return 0, err
		}
		total += int64(len(data))
	}
	return total, nil
}

// MixedTree writes about textBytes of YAML text in 256 KiB files and
// binaryBytes of random data in 1 MiB files into dir, and returns the total.
func MixedTree(dir string, textBytes, binaryBytes int64) (int64, error) {
	rng := rand.New(rand.NewPCG(2, 2))
	var total int64
	for i := 0; total < textBytes; i++ {
		p := filepath.Join(dir, "text", fmt.Sprintf("doc-%04d.yaml", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		data := yamlDoc(rng, 256<<10)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return 0, err
		}
		total += int64(len(data))
	}
	buf := make([]byte, 1<<20)
	for i := int64(0); i*int64(len(buf)) < binaryBytes; i++ {
		for j := 0; j < len(buf); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(dir, "bin", fmt.Sprintf("blob-%04d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return 0, err
		}
		total += int64(len(buf))
	}
	return total, nil
}

// Size returns the total size of the regular files under dir.
func Size(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// CPUTime returns the user plus system CPU time this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// HeapSampler records the peak of live plus not-yet-collected heap objects.
type HeapSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

const heapMetric = "/memory/classes/heap/objects:bytes"

// StartHeapSampler collects garbage and starts sampling every millisecond.
func StartHeapSampler() *HeapSampler {
	runtime.GC()
	s := &HeapSampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: heapMetric}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > s.peak {
			s.peak = v
		}
	}
	read()
	s.wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				read()
				return
			case <-t.C:
				read()
			}
		}
	})
	return s
}

// StopMB stops sampling and returns the peak in MiB.
func (s *HeapSampler) StopMB() float64 {
	close(s.stop)
	s.wg.Wait()
	return float64(s.peak) / (1 << 20)
}
