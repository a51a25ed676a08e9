package gitopsd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/options"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// TestAlertNoSpamEndToEnd runs gitopsd — its GitRepository and
// Kustomization reconcilers, its recorder and its in-process hub on
// Provider and Alert objects — against a gittest repository whose
// manifest is broken, and a generic Provider posting to a sink. The
// Kustomization is reconciled 20 times while failing the same way: the
// sink gets exactly one failure notification. After the Alert's
// reminderInterval (the hub's clock moved on), one more failing reconcile
// sends one reminder; the fix, pushed, sends one resolution. Nothing else
// reaches the sink, and the external hub of --events-addr got every
// failure.
func TestAlertNoSpamEndToEnd(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start(testenv.WithScheme(scheme), testenv.WithCRDPaths("../../config/crd/bases"))
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := env.Client()

	// The hub's clock: now, plus what the test moves it on by.
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	external := eventstest.NewSink(t)
	opts := Options{
		Controller: options.DefaultOptions(Name), Source: DefaultSourceOptions(),
		StoragePath: t.TempDir(), StorageAddr: "127.0.0.1:0", EventsAddr: external.URL(),
		hubOptions: []hub.Option{hub.WithClock(clock)},
	}
	opts.Controller.MetricsAddr, opts.Controller.HealthAddr = "0", "0"
	logs := &alertLog{}
	opts.Controller.LogFormat, opts.Controller.LogLevel, opts.Controller.LogOutput = "json", "debug", logs
	op, err := New(env.Config(), opts, func(o *manager.Options) { o.Controller.SkipNameValidation = ptr.To(true) })
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := op.hub.Register(reg); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- op.Start(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-stopped; err != nil {
			t.Errorf("gitopsd stopped: %v", err)
		}
	})

	ns := env.Namespace(t)
	sink := eventstest.NewProviderSink(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	broken := repo.Commit("main", "broken", map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n"})
	const reminder = time.Hour
	create := func(objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			o.SetNamespace(ns)
			if err := c.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, StringData: map[string]string{"address": sink.URL() + "/" + secretPath}},
		&notificationv1.Provider{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Spec: notificationv1.ProviderSpec{
			Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "hook"},
		}},
		&notificationv1.Alert{ObjectMeta: metav1.ObjectMeta{Name: "on-call"}, Spec: notificationv1.AlertSpec{
			ProviderRef:      meta.LocalObjectReference{Name: "hook"},
			EventSources:     []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: "*"}},
			ReminderInterval: &metav1.Duration{Duration: reminder},
		}},
	)
	waitAlertReady(ctx, t, c, ns, "on-call")
	// The source first, so that the Kustomization's only failure is the
	// broken manifest (not also "no artifact yet").
	create(&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: sourcev1.GitRepositorySpec{
		URL: srv.HTTPURL("app.git"), Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		Interval: metav1.Duration{Duration: time.Hour},
	}})
	waitArtifact(ctx, t, c, client.ObjectKey{Namespace: ns, Name: "app"})
	create(
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"},
			Path:      "./deploy", Interval: metav1.Duration{Duration: time.Hour},
			RetryInterval: &metav1.Duration{Duration: time.Hour}, Prune: true, TargetNamespace: ns,
		}},
	)

	notes := func(n int) []events.Event {
		t.Helper()
		reqs, err := sink.Wait(ctx, n)
		if err != nil {
			t.Fatalf("waiting for notification %d: %v", n, err)
		}
		out := make([]events.Event, len(reqs))
		for i, r := range reqs {
			if err := json.Unmarshal(r.Body, &out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	first := notes(1)[0]
	if first.Severity != events.SeverityError || first.Reason != "BuildFailed" || first.InvolvedObject.Name != "app" {
		t.Fatalf("first notification: %s %s %s", first.Severity, first.Reason, first.Message)
	}
	if rev := first.Metadata["revision"]; rev != "main@sha1:"+broken {
		t.Errorf("notification revision = %q, want main@sha1:%s", rev, broken)
	}

	// 19 more failing reconciles, each one handled (status) before the
	// next is asked for.
	ks := client.ObjectKey{Namespace: ns, Name: "app"}
	for i := range 19 {
		requestReconcile(ctx, t, c, ks, fmt.Sprintf("again-%d", i))
	}
	// Every failure reached the hub: the first notified, the 19 others
	// were suppressed as repeats (counted once Submit returned).
	waitMetric(ctx, t, reg, "gitopskit_events_hub_suppressed_total", map[string]string{"provider": ns + "/hook", "reason": "repeat"}, 19)
	if got := len(sink.Requests()); got != 1 {
		t.Fatalf("after 20 failing reconciles the sink got %d notifications, want 1", got)
	}

	skew.Store(int64(reminder + time.Minute))
	requestReconcile(ctx, t, c, ks, "after-the-reminder-interval")
	rem := notes(2)[1]
	if !strings.HasPrefix(rem.Message, "still failing, 21 times in 1h") {
		t.Errorf("reminder: %q", rem.Message)
	}

	fixed := repo.Commit("main", "fixed", map[string]string{"deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {a: b}\n"})
	requestReconcile(ctx, t, c, client.ObjectKey{Namespace: ns, Name: "app"}, "fixed", &sourcev1.GitRepository{})
	res := notes(3)[2]
	if !strings.HasPrefix(res.Message, "resolved after 21 failures") || res.Severity != events.SeverityInfo {
		t.Errorf("resolution: %s %q", res.Severity, res.Message)
	}
	if rev := res.Metadata["revision"]; rev != "main@sha1:"+fixed {
		t.Errorf("resolution revision = %q, want main@sha1:%s", rev, fixed)
	}
	// Whatever the hub queued is delivered, and it was three.
	waitMetric(ctx, t, reg, "gitopskit_events_hub_delivered_total", map[string]string{"provider": ns + "/hook"}, 3)
	fams, err := metricstest.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	matched, _ := fams.Value("gitopskit_events_hub_matched_total", map[string]string{"provider": ns + "/hook"})
	if queued := matched - fams.Sum("gitopskit_events_hub_suppressed_total"); queued != 3 {
		t.Errorf("the hub queued %v notifications, want 3", queued)
	}
	if got := len(sink.Requests()); got != 3 {
		t.Errorf("the sink got %d notifications, want 3", got)
	}

	// --events-addr: the external hub got the failures too (every one of
	// them: spam is the hub's to prevent).
	warnings := func() int {
		n := 0
		for _, e := range external.Events() {
			if e.InvolvedObject.Kind == kustomizev1.KustomizationKind && e.Reason == "BuildFailed" {
				n++
			}
		}
		return n
	}
	for warnings() < 21 {
		if _, err := external.Wait(ctx, len(external.Events())+1); err != nil {
			t.Fatalf("the external hub got %d BuildFailed events, want 21: %v", warnings(), err)
		}
	}

	// The Provider's address is a credential: in no log line, Event,
	// hub event or status.
	var evs corev1.EventList
	if err := c.List(ctx, &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var p notificationv1.Provider
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hook"}, &p); err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{
		"logs": logs.String(), "events": fmt.Sprint(evs.Items), "external hub": fmt.Sprint(external.Events()), "status": fmt.Sprint(p.Status),
	} {
		if strings.Contains(text, secretPath) {
			t.Errorf("the Provider's secret address is in the %s", what)
		}
	}
}

// secretPath is the secret part of the test Provider's address.
const secretPath = "hook-8f1d2c0e9b7a"

// alertLog is a log destination safe for concurrent writes.
type alertLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *alertLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *alertLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitArtifact waits until the GitRepository has an artifact.
func waitArtifact(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey) {
	t.Helper()
	src := &sourcev1.GitRepository{}
	for {
		if err := c.Get(ctx, key, src); err != nil {
			t.Fatal(err)
		}
		if src.Status.Artifact != nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GitRepository %s has no artifact: %+v", key, src.Status.Conditions)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// requestReconcile asks for a reconcile of the object at key (a
// Kustomization, or the type of into) and waits until it was handled.
func requestReconcile(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey, token string, into ...client.Object) {
	t.Helper()
	var obj client.Object = &kustomizev1.Kustomization{}
	if len(into) > 0 {
		obj = into[0]
	}
	if err := c.Get(ctx, key, obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[reconcile.RequestedAtAnnotation] = token
	obj.SetAnnotations(a)
	if err := c.Patch(ctx, obj, patch); err != nil {
		t.Fatal(err)
	}
	for {
		if err := c.Get(ctx, key, obj); err != nil {
			t.Fatal(err)
		}
		if rs, ok := obj.(reconcile.RequestStatus); ok && rs.GetLastHandledReconcileAt() == token {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("reconcile request %q of %s never handled", token, key)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitAlertReady waits for the Alert to be Ready.
func waitAlertReady(ctx context.Context, t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	a := &notificationv1.Alert{}
	for {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
			t.Fatal(err)
		}
		for _, cond := range a.Status.Conditions {
			if cond.Type == "Ready" && cond.Status == metav1.ConditionTrue {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Alert %s never Ready: %+v", name, a.Status.Conditions)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitMetric waits until the series reaches at least want.
func waitMetric(ctx context.Context, t *testing.T, g prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	for {
		fams, err := metricstest.Gather(g)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := fams.Value(name, labels)
		if v >= want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s%v = %v, want %v", name, labels, v, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
