package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/artifact"
)

func testIndex(t testing.TB, charts int) *Index {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	for i := range charts {
		fmt.Fprintf(&b, "  c%d:\n  - apiVersion: v2\n    name: c%d\n    version: 1.0.0\n    urls: [c.tgz]\n", i, i)
	}
	idx, err := ParseIndex(context.Background(), strings.NewReader(b.String()), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestCacheBoundsAndExpires(t *testing.T) {
	small := testIndex(t, 1)
	c := NewCache(3*small.Size(), time.Minute)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	d := func(i int) artifact.Digest { return artifact.Digest(fmt.Sprintf("sha256:%064d", i)) }
	for i := range 4 {
		c.Add("https://example.com", d(i), small)
	}
	if c.Len() != 3 || c.Size() > 3*small.Size() {
		t.Fatalf("len %d size %d", c.Len(), c.Size())
	}
	if _, ok := c.Get("https://example.com", d(0)); ok {
		t.Fatal("least recently used entry kept past the size bound")
	}
	if _, ok := c.Get("https://example.com", d(3)); !ok {
		t.Fatal("newest entry evicted")
	}
	if _, ok := c.Get("https://other.example.com", d(3)); ok {
		t.Fatal("another URL with the same digest hit")
	}
	// An index larger than the cache is not kept.
	c.Add("https://example.com", d(9), testIndex(t, 50))
	if _, ok := c.Get("https://example.com", d(9)); ok {
		t.Fatal("oversized index cached")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := c.Get("https://example.com", d(3)); ok {
		t.Fatal("entry kept past its TTL")
	}
	c.Add("https://example.com", d(5), small)
	if c.Len() != 1 {
		t.Fatalf("expired entries kept: %d", c.Len())
	}
}

func TestCacheLoadsOnceForConcurrentCallers(t *testing.T) {
	c := NewCache(1<<30, time.Hour)
	idx := testIndex(t, 3)
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (*Index, error) {
		loads.Add(1)
		<-release
		return idx, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.GetOrLoad(context.Background(), "u", "sha256:1", load)
			if err == nil && got != idx {
				err = errors.New("another index")
			}
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if loads.Load() != 1 {
		t.Fatalf("%d loads", loads.Load())
	}
	// A failed load is not cached, and its error reaches its waiters.
	boom := errors.New("boom")
	if _, err := c.GetOrLoad(context.Background(), "u", "sha256:2", func(context.Context) (*Index, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, ok := c.Get("u", "sha256:2"); ok {
		t.Fatal("failure cached")
	}
	// A waiter whose context ends stops waiting.
	block := make(chan struct{})
	defer close(block)
	go c.GetOrLoad(context.Background(), "u", "sha256:3", func(context.Context) (*Index, error) { <-block; return idx, nil })
	time.Sleep(20 * time.Millisecond)
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.GetOrLoad(cctx, "u", "sha256:3", load); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
}
