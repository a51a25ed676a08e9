package hub_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
)

func catchAll(id string, p events.Provider) *hub.Alert {
	return &hub.Alert{ID: id, Namespace: "apps", ProviderName: id, Sources: []hub.Source{{Kind: "*", Name: "*"}}, Provider: p}
}

func TestRetriesThenDelivers(t *testing.T) {
	p := eventstest.NewProvider()
	p.FailNext(2, errors.New("HTTP 503"))
	reg := prometheus.NewRegistry()
	h := hub.New(hub.StaticAlerts{catchAll("a", p)}, hub.WithRetries(3, time.Millisecond, 10*time.Millisecond))
	_ = h.Register(reg)
	startHub(t, h)
	_ = h.Submit(t.Context(), failed("podinfo", "x"))
	if _, err := p.Wait(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if p.Attempts() != 3 {
		t.Errorf("attempts = %d, want 3", p.Attempts())
	}
	waitMetric(t, reg, "gitopskit_events_hub_delivered_total", map[string]string{"provider": "a"}, 1)
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	p := eventstest.NewProvider()
	p.FailNext(1, events.Permanent(errors.New("HTTP 400")))
	reg := prometheus.NewRegistry()
	h := hub.New(hub.StaticAlerts{catchAll("a", p)}, hub.WithRetries(5, time.Millisecond, time.Millisecond))
	_ = h.Register(reg)
	startHub(t, h)
	_ = h.Submit(t.Context(), failed("podinfo", "x"))
	waitMetric(t, reg, "gitopskit_events_hub_failed_total", map[string]string{"provider": "a", "reason": "delivery"}, 1)
	if p.Attempts() != 1 {
		t.Errorf("attempts = %d, want 1", p.Attempts())
	}
}

func TestAttemptsAreBoundedByTheTimeout(t *testing.T) {
	p := eventstest.NewProvider()
	p.SetDelay(time.Hour)
	reg := prometheus.NewRegistry()
	a := catchAll("a", p)
	a.Timeout = 20 * time.Millisecond
	h := hub.New(hub.StaticAlerts{a}, hub.WithRetries(2, time.Millisecond, time.Millisecond))
	_ = h.Register(reg)
	startHub(t, h)
	_ = h.Submit(t.Context(), failed("podinfo", "x"))
	waitMetric(t, reg, "gitopskit_events_hub_failed_total", map[string]string{"provider": "a", "reason": "delivery"}, 1)
	if p.Attempts() != 2 {
		t.Errorf("attempts = %d, want 2", p.Attempts())
	}
}

// TestFullQueueDrops: Submit never blocks; what finds the queue full is
// dropped and counted.
func TestFullQueueDrops(t *testing.T) {
	p := eventstest.NewProvider()
	reg := prometheus.NewRegistry()
	h := hub.New(hub.StaticAlerts{catchAll("a", p)}, hub.WithWorkers(1), hub.WithQueueSize(2))
	_ = h.Register(reg)
	// Not started: nothing leaves the queue.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			_ = h.Submit(t.Context(), failed(fmt.Sprintf("app-%d", i), "x"))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Submit blocked on a full queue")
	}
	if v := metric(t, reg, "gitopskit_events_hub_failed_total", map[string]string{"provider": "a", "reason": "queue_full"}); v != 3 {
		t.Errorf("queue_full = %v, want 3", v)
	}
	startHub(t, h)
	if _, err := p.Wait(waitCtx(t), 2); err != nil {
		t.Fatal(err)
	}
}

// TestSlowProviderDoesNotHoldOthers: two alerts on separate workers; a
// provider stuck on its timeout does not delay the other's deliveries.
func TestSlowProviderDoesNotHoldOthers(t *testing.T) {
	slow := eventstest.NewProvider()
	slow.SetDelay(time.Hour)
	fast := eventstest.NewProvider()
	a := catchAll("slow", slow)
	a.Timeout = time.Hour
	h := hub.New(hub.StaticAlerts{a, catchAll("fast", fast)}, hub.WithWorkers(8))
	startHub(t, h)
	for i := range 20 {
		_ = h.Submit(t.Context(), failed(fmt.Sprintf("app-%d", i), "x"))
	}
	// The slow provider holds at most the workers its objects hash to; with
	// eight workers and twenty objects, the fast provider's notifications
	// on the other workers go through.
	if _, err := fast.Wait(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentSubmit(t *testing.T) {
	p := eventstest.NewProvider()
	h := hub.New(hub.StaticAlerts{catchAll("a", p)}, hub.WithQueueSize(1000))
	startHub(t, h)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				_ = h.Submit(t.Context(), failed(fmt.Sprintf("app-%d-%d", g, i), "x"))
				_ = h.Submit(t.Context(), succeeded(fmt.Sprintf("app-%d-%d", g, i)))
			}
		})
	}
	wg.Wait()
	got, err := p.Wait(waitCtx(t), 800)
	if err != nil {
		t.Fatal(err)
	}
	// Per object: the failure, then its resolution, in that order.
	seen := map[string]events.Kind{}
	for _, n := range got {
		name := n.Event.InvolvedObject.Name
		switch n.Kind {
		case events.KindFailure:
			if _, ok := seen[name]; ok {
				t.Errorf("%s: failure after %s", name, seen[name])
			}
		case events.KindResolved:
			if seen[name] != events.KindFailure {
				t.Errorf("%s: resolution after %q", name, seen[name])
			}
		default:
			t.Errorf("%s: %s", name, n.Kind)
		}
		seen[name] = n.Kind
	}
}

func TestStartTwice(t *testing.T) {
	h := hub.New(hub.StaticAlerts{})
	startHub(t, h)
	time.Sleep(10 * time.Millisecond)
	if err := h.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
}

// waitMetric polls the registry until the series reaches want (deliveries
// finish on the workers, after the provider returns).
func waitMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string, want float64) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		if v := metric(t, reg, name, labels); v == want {
			return
		} else if ctx.Err() != nil {
			t.Fatalf("%s%v = %v, want %v", name, labels, v, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
