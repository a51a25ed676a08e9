package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/hub"
)

// countingSink is a provider that only counts, so the benchmark measures
// the hub.
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) Post(context.Context, *events.Notification) error { c.n.Add(1); return nil }

func (c *countingSink) waitFor(b *testing.B, n int64) {
	deadline := time.Now().Add(time.Minute)
	for c.n.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d", c.n.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// benchAlerts returns n alerts of which the last matches every event of
// namespace apps.
func benchAlerts(n int, p events.Provider) hub.StaticAlerts {
	var out hub.StaticAlerts
	for i := range n - 1 {
		out = append(out, &hub.Alert{ID: fmt.Sprintf("ns-%d/a", i), Namespace: fmt.Sprintf("ns-%d", i),
			Sources: []hub.Source{{Kind: "Kustomization", Name: "*"}}, Provider: p})
	}
	return append(out, &hub.Alert{ID: "apps/a", Namespace: "apps", Sources: []hub.Source{{Kind: "Kustomization", Name: "app-*"}}, Provider: p})
}

// BenchmarkSubmit: events matched and dispatched, each one a notification
// (objects alternate failing and recovering), until the provider has all.
func BenchmarkSubmit(b *testing.B) {
	for _, alerts := range []int{1, 100} {
		b.Run(fmt.Sprintf("alerts=%d", alerts), func(b *testing.B) {
			sink := &countingSink{}
			h := hub.New(benchAlerts(alerts, sink), hub.WithQueueSize(1<<16))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = h.Start(ctx) }()
			fail := failed("x", "health check failed")
			ok := succeeded("x")
			b.ReportAllocs()
			var n int64
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				e := fail
				if (i/1000)%2 == 1 {
					e = ok
				}
				e.InvolvedObject.Name = fmt.Sprintf("app-%d", i%1000)
				if err := h.Submit(ctx, e); err != nil {
					b.Fatal(err)
				}
				n++
			}
			sink.waitFor(b, n)
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkHTTP: the same through the HTTP handler, with parallel
// clients posting Flux JSON.
func BenchmarkHTTP(b *testing.B) {
	sink := &countingSink{}
	h := hub.New(benchAlerts(1, sink), hub.WithQueueSize(1<<16))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = h.Start(ctx) }()
	srv := httptest.NewServer(h)
	defer srv.Close()
	var seq atomic.Int64
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := srv.Client()
		for pb.Next() {
			i := seq.Add(1)
			e := failed(fmt.Sprintf("app-%d", i), "health check failed")
			body, _ := json.Marshal(e)
			resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	sink.waitFor(b, seq.Load())
	b.ReportMetric(float64(seq.Load())/time.Since(start).Seconds(), "events/s")
}
