package recorder_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
	"github.com/gitopskit/kit/events/recorder"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// kustomization is an object of a group with a prefix, as the reference
// operator's are. No CRD is needed: an Event may name any object.
func kustomization(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("kustomize.gitopskit.dev/v1")
	u.SetKind("Kustomization")
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetUID("4f1c2b9e-0000-4000-8000-000000000001")
	u.SetAnnotations(map[string]string{"event.gitopskit.dev/env": "prod", "unrelated": "x"})
	return u
}

func newRecorder(t *testing.T, opts ...recorder.Option) (*recorder.Recorder, *prometheus.Registry) {
	t.Helper()
	rec, err := recorder.New(context.Background(), "gitopsd", append([]recorder.Option{recorder.WithInstance("gitopsd-0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rec.Close(ctx)
	})
	return rec, reg
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// kubeEvents polls the namespace's Events until ok accepts them.
func kubeEvents(t *testing.T, ns string, ok func([]corev1.Event) bool) []corev1.Event {
	t.Helper()
	ctx := waitCtx(t)
	for {
		var list corev1.EventList
		if err := env.Client().List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if ok(list.Items) {
			return list.Items
		}
		select {
		case <-ctx.Done():
			t.Fatalf("events never matched; last: %+v", summarizeKube(list.Items))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func summarizeKube(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %s %q x%d", e.Type, e.Reason, e.Message, e.Count))
	}
	return out
}

// waitMetric polls until a series reaches want: the counters move when
// the worker has the hub's answer, after the sink recorded the event.
func waitMetric(t *testing.T, reg *prometheus.Registry, name, reason string, want float64) {
	t.Helper()
	ctx := waitCtx(t)
	for metric(t, reg, name, reason) != want {
		if ctx.Err() != nil {
			t.Fatalf("%s{reason=%q} = %v, want %v", name, reason, metric(t, reg, name, reason), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func metric(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
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
			match := reason == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					match = true
				}
			}
			if match {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// TestKubernetesEventsAreAggregated: on the real API server, the same event
// recorded five times is one Event counted five times, and more than ten
// similar events are combined.
func TestKubernetesEventsAreAggregated(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	rec, _ := newRecorder(t, recorder.WithKubeConfig(env.Config()))
	obj := kustomization(ns, "podinfo")
	for range 5 {
		rec.Eventf(obj, corev1.EventTypeWarning, "HealthCheckFailed", "deployment/podinfo not ready")
	}
	evs := kubeEvents(t, ns, func(evs []corev1.Event) bool { return len(evs) == 1 && evs[0].Count == 5 })
	e := evs[0]
	if e.Type != corev1.EventTypeWarning || e.Source.Component != "gitopsd" || e.ReportingController != "gitopsd" ||
		e.InvolvedObject.Kind != "Kustomization" || e.InvolvedObject.APIVersion != "kustomize.gitopskit.dev/v1" {
		t.Errorf("event %+v", e)
	}
	if e.Annotations["event.gitopskit.dev/env"] != "prod" {
		t.Errorf("annotations %v", e.Annotations)
	}

	other := kustomization(ns, "other")
	for i := range 14 {
		rec.Eventf(other, corev1.EventTypeNormal, "Progressing", "step %d of 14", i)
	}
	kubeEvents(t, ns, func(evs []corev1.Event) bool {
		for _, e := range evs {
			if e.InvolvedObject.Name == "other" && strings.HasPrefix(e.Message, "(combined from similar events)") {
				return true
			}
		}
		return false
	})
}

// TestKubernetesEventsAreRateLimited: client-go's spam filter lets 25
// events about one object through in a burst; the 26th and later are
// dropped, not queued against the API server.
func TestKubernetesEventsAreRateLimited(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	rec, _ := newRecorder(t, recorder.WithKubeConfig(env.Config()))
	obj := kustomization(ns, "noisy")
	for i := range 40 {
		rec.Eventf(obj, corev1.EventTypeNormal, fmt.Sprintf("Reason%d", i), "event %d", i)
	}
	// The broadcaster writes in order: once the sentinel's Event exists,
	// every event before it was written or dropped.
	rec.Eventf(kustomization(ns, "sentinel"), corev1.EventTypeNormal, "Sentinel", "last")
	evs := kubeEvents(t, ns, func(evs []corev1.Event) bool {
		for _, e := range evs {
			if e.InvolvedObject.Name == "sentinel" {
				return true
			}
		}
		return false
	})
	noisy := 0
	for _, e := range evs {
		if e.InvolvedObject.Name == "noisy" {
			noisy++
		}
	}
	if noisy != 25 {
		t.Errorf("%d Events about one object, want the burst of 25", noisy)
	}
}

// TestEventsReachTheHub: the recorder posts to a real hub over HTTP, which
// notifies a provider; trace events stay in the cluster.
func TestEventsReachTheHub(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	p := eventstest.NewProvider()
	h := hub.New(hub.StaticAlerts{{ID: "a", Namespace: ns, Sources: []hub.Source{{Kind: "Kustomization", Name: "*"}}, Provider: p}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = h.Start(ctx) }()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rec, reg := newRecorder(t, recorder.WithKubeConfig(env.Config()), recorder.WithHub(srv.URL))

	obj := kustomization(ns, "podinfo")
	rev := "main@sha1:0123456789abcdef0123456789abcdef01234567"
	rec.Eventf(obj, recorder.EventTypeTrace, "Progressing", "building")
	rec.AnnotatedEventf(obj, map[string]string{events.MetaRevision: rev, events.MetaToken: "t1"},
		corev1.EventTypeNormal, "ReconciliationSucceeded", "applied revision %s", rev)
	ns2, err := p.Wait(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	n := ns2[0]
	if n.Event.Reason != "ReconciliationSucceeded" || n.Event.Severity != events.SeverityInfo ||
		n.Event.ReportingController != "gitopsd" || n.Event.ReportingInstance != "gitopsd-0" ||
		n.Event.InvolvedObject.UID != obj.GetUID() {
		t.Errorf("notification %+v", n.Event)
	}
	want := map[string]string{"revision": rev, "env": "prod"}
	if fmt.Sprint(n.Event.Metadata) != fmt.Sprint(want) {
		t.Errorf("metadata %v, want %v", n.Event.Metadata, want)
	}
	// Both are in the cluster: the trace one as Normal.
	kubeEvents(t, ns, func(evs []corev1.Event) bool {
		reasons := map[string]string{}
		for _, e := range evs {
			reasons[e.Reason] = e.Type
		}
		return reasons["Progressing"] == corev1.EventTypeNormal && reasons["ReconciliationSucceeded"] == corev1.EventTypeNormal
	})
	if v := metric(t, reg, "gitopskit_events_recorder_posted_total", ""); v != 1 {
		t.Errorf("posted = %v, want 1 (the trace event is not posted)", v)
	}
}

// recordBounded records n events on another goroutine and fails the test
// if they take longer than a generous bound: the caller must never wait on
// the hub.
func recordBounded(t *testing.T, rec *recorder.Recorder, n int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			rec.Eventf(kustomization("apps", fmt.Sprintf("app-%d", i)), corev1.EventTypeWarning, "Failed", "attempt %d", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("recording %d events blocked on the hub", n)
	}
}

func TestDeadHubNeverBlocksTheCaller(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	rec, reg := newRecorder(t, recorder.WithHub(addr), recorder.WithQueueSize(10), recorder.WithRetries(2, time.Millisecond, time.Millisecond))
	recordBounded(t, rec, 200)
	ctx := waitCtx(t)
	for metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedFailed)+
		metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedQueueFull) < 200 {
		if ctx.Err() != nil {
			t.Fatalf("dropped: failed %v, queue_full %v", metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedFailed),
				metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedQueueFull))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedQueueFull) == 0 {
		t.Error("200 events into a queue of 10 with a dead hub dropped none for a full queue")
	}
}

func TestSlowHubNeverBlocksTheCaller(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewSink(t)
	sink.SetDelay(time.Hour)
	rec, reg := newRecorder(t, recorder.WithHub(sink.URL()), recorder.WithQueueSize(5), recorder.WithPostTimeout(time.Hour))
	recordBounded(t, rec, 50)
	// One event is with the worker, waiting on the hub, five are queued.
	if v := metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedQueueFull); v < 44 {
		t.Errorf("dropped for a full queue: %v, want at least 44", v)
	}
	if v := metric(t, reg, "gitopskit_events_recorder_queue_length", ""); v > 5 {
		t.Errorf("queue length %v", v)
	}
}

func TestRetriesAndRejections(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewSink(t)
	rec, reg := newRecorder(t, recorder.WithHub(sink.URL()), recorder.WithRetries(3, time.Millisecond, time.Millisecond))
	sink.FailNext(2, http.StatusServiceUnavailable)
	rec.Eventf(kustomization("apps", "a"), corev1.EventTypeNormal, "Succeeded", "one")
	if _, err := sink.Wait(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if sink.Requests() != 3 {
		t.Errorf("requests = %d, want 3 (two 503s, then accepted)", sink.Requests())
	}
	sink.FailNext(1, http.StatusTooManyRequests)
	rec.Eventf(kustomization("apps", "a"), corev1.EventTypeNormal, "Succeeded", "two")
	rec.Eventf(kustomization("apps", "a"), corev1.EventTypeNormal, "Succeeded", "three")
	evs, err := sink.Wait(waitCtx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if evs[1].Message != "three" || sink.Requests() != 5 {
		t.Errorf("after a 429: %d requests, last %q; a 4xx must not be retried", sink.Requests(), evs[1].Message)
	}
	waitMetric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedRejected, 1)
	waitMetric(t, reg, "gitopskit_events_recorder_posted_total", "", 2)
}

// TestCredentialsAreMasked: a URL password in a message or a metadata value
// reaches neither the cluster nor the hub; WithRedactor masks the rest.
func TestCredentialsAreMasked(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	sink := eventstest.NewSink(t)
	rec, _ := newRecorder(t, recorder.WithKubeConfig(env.Config()), recorder.WithHub(sink.URL()),
		recorder.WithRedactor(func(s string) string { return strings.ReplaceAll(s, "ghp_T0KEN", "***") }))
	rec.AnnotatedEventf(kustomization(ns, "podinfo"), map[string]string{"source": "https://bot:pa55w0rd@git.example.com/app.git"},
		corev1.EventTypeWarning, "GitOperationFailed", "clone https://bot:pa55w0rd@git.example.com/app.git failed (token ghp_T0KEN)")
	evs, err := sink.Wait(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	kube := kubeEvents(t, ns, func(evs []corev1.Event) bool { return len(evs) == 1 })
	for _, s := range []string{evs[0].Message, fmt.Sprint(evs[0].Metadata), kube[0].Message, fmt.Sprint(kube[0].Annotations)} {
		if strings.Contains(s, "pa55w0rd") || strings.Contains(s, "ghp_T0KEN") {
			t.Errorf("credential in %q", s)
		}
		if !strings.Contains(s, "bot:***@git.example.com") {
			t.Errorf("not masked as expected: %q", s)
		}
	}
}

func TestCloseDrainsThenDrops(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewSink(t)
	sink.SetDelay(20 * time.Millisecond)
	rec, reg := newRecorder(t, recorder.WithHub(sink.URL()))
	for i := range 5 {
		rec.Eventf(kustomization("apps", "a"), corev1.EventTypeNormal, "Succeeded", "n%d", i)
	}
	if err := rec.Close(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Events()); n != 5 {
		t.Errorf("%d events posted before Close returned, want 5", n)
	}
	rec.Eventf(kustomization("apps", "a"), corev1.EventTypeNormal, "Succeeded", "late")
	if v := metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedClosed); v != 1 {
		t.Errorf("closed = %v", v)
	}

	// A Close whose context ends gives up on a hub that never answers.
	slow := eventstest.NewSink(t)
	slow.SetDelay(time.Hour)
	rec2, reg2 := newRecorder(t, recorder.WithHub(slow.URL()), recorder.WithPostTimeout(time.Hour))
	for range 3 {
		rec2.Eventf(kustomization("apps", "a"), corev1.EventTypeNormal, "Succeeded", "x")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := rec2.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v", err)
	}
	if v := metric(t, reg2, "gitopskit_events_recorder_dropped_total", recorder.DroppedClosed); v != 3 {
		t.Errorf("dropped on close = %v, want 3", v)
	}
}

func TestInvalidObjects(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewSink(t)
	rec, reg := newRecorder(t, recorder.WithHub(sink.URL()))
	// A typed object the scheme does not know and whose TypeMeta is empty.
	type unknown struct{ corev1.ConfigMap }
	rec.Eventf(&unknown{}, corev1.EventTypeNormal, "R", "m")
	// A known kind without a name.
	rec.Eventf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "apps"}}, corev1.EventTypeNormal, "R", "m")
	if v := metric(t, reg, "gitopskit_events_recorder_dropped_total", recorder.DroppedInvalid); v != 2 {
		t.Errorf("invalid = %v, want 2", v)
	}
	// A typed ConfigMap without TypeMeta is found through the scheme.
	rec.Eventf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "cm"}}, corev1.EventTypeNormal, "R", "m")
	evs, err := sink.Wait(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].InvolvedObject.Kind != "ConfigMap" || evs[0].InvolvedObject.APIVersion != "v1" {
		t.Errorf("%+v", evs[0].InvolvedObject)
	}
	if _, err := recorder.New(context.Background(), ""); err == nil {
		t.Error("no controller name accepted")
	}
	if _, err := recorder.New(logr.NewContext(context.Background(), logr.Discard()), "c", recorder.WithHub("ftp://x")); err == nil {
		t.Error("a non-HTTP hub accepted")
	}
}

// TestLongMessage: a message over the event API's bound is cut to it, in
// the cluster and at the hub.
func TestLongMessage(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	sink := eventstest.NewSink(t)
	rec, _ := newRecorder(t, recorder.WithKubeConfig(env.Config()), recorder.WithHub(sink.URL()))
	rec.Event(kustomization(ns, "podinfo"), corev1.EventTypeWarning, "BuildFailed", strings.Repeat("é", 50000))
	evs, err := sink.Wait(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(evs[0].Message)); n != events.MaxMessageLength {
		t.Errorf("hub message has %d characters", n)
	}
	kube := kubeEvents(t, ns, func(evs []corev1.Event) bool { return len(evs) == 1 })
	if n := len([]rune(kube[0].Message)); n > events.MaxMessageLength {
		t.Errorf("cluster message has %d characters", n)
	}
}
