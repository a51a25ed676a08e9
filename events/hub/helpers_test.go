package hub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/hub"
)

// clock is a settable clock for the no-spam rules.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const rev1 = "main@sha1:1111111111111111111111111111111111111111"

// event is an event about a Kustomization as gitopsd's recorder sends it.
func event(name, severity, reason, message string) *events.Event {
	return &events.Event{
		InvolvedObject: corev1.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: name, APIVersion: "kustomize.gitopskit.dev/v1"},
		Severity:       severity,
		Timestamp:      metav1.NewTime(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)),
		Message:        message,
		Reason:         reason,
		Metadata: map[string]string{
			"kustomize.gitopskit.dev/revision": rev1,
			"kustomize.gitopskit.dev/token":    "t1",
			"kustomize.gitopskit.dev/digest":   "sha256:abc",
			"event.gitopskit.dev/team":         "platform",
			"other.example.com/ignored":        "x",
		},
		ReportingController: "gitopsd",
	}
}

func failed(name, msg string) *events.Event {
	return event(name, events.SeverityError, "HealthCheckFailed", msg)
}

func succeeded(name string) *events.Event {
	return event(name, events.SeverityInfo, "ReconciliationSucceeded", "applied revision "+rev1)
}

// startHub runs h until the test ends.
func startHub(t *testing.T, h *hub.Hub) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Start(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// metric reads one series of the registry; 0 when absent.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matchLabels(m, labels) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func matchLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return len(got) == len(want)
}
