package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// repeats is how many more failing reconciles the alert step asks for,
// to show that they notify nothing.
const repeats = 3

// alert shows gitopsd's alerting: a generic Provider posting to a local
// webhook sink and an Alert on the Kustomization's errors; a broken
// manifest pushed makes one notification however often the Kustomization
// fails the same way, and the fix one "resolved" notification.
func (d *demo) alert(ctx context.Context) (func() error, error) {
	sink, err := startSink()
	if err != nil {
		return nil, err
	}
	d.printf("\n→ a webhook sink at %s; Provider %s/%s (type generic, address in Secret demo-webhook) and Alert %s/%s (Kustomization %s, errors)\n",
		sink.url, Namespace, Name, Namespace, Name, Name)
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "demo-webhook", Namespace: Namespace}, StringData: map[string]string{"address": sink.url + "/hook"}},
		&notificationv1.Provider{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace}, Spec: notificationv1.ProviderSpec{
			Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "demo-webhook"},
		}},
		&notificationv1.Alert{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace}, Spec: notificationv1.AlertSpec{
			ProviderRef:      meta.LocalObjectReference{Name: Name},
			EventSeverity:    events.SeverityError,
			EventSources:     []notificationv1.CrossNamespaceObjectReference{{Kind: kustomizev1.KustomizationKind, Name: Name}},
			ReminderInterval: &metav1.Duration{Duration: time.Hour},
		}},
	}
	for _, o := range objs {
		if err := d.c.Create(ctx, o); err != nil {
			return sink.close, err
		}
	}
	alert := &notificationv1.Alert{}
	alert.Name, alert.Namespace = Name, Namespace
	if err := d.waitFor(ctx, alert, &notificationv1.AlertList{}, func() bool {
		return conditions.IsReady(alert) && alert.Status.ObservedGeneration == alert.Generation
	}); err != nil {
		return sink.close, fmt.Errorf("%w; Alert conditions: %s", err, describe(alert.Status.Conditions))
	}

	d.printf("→ pushing a commit that adds a broken manifest (broken.yaml)\n")
	rev, err := d.push(ctx, "Break the build", map[string][]byte{"broken.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")}, nil)
	if err != nil {
		return sink.close, err
	}
	pushed := time.Now()
	if err := d.gitopsctl(ctx, "reconcile", "source", "git", Name); err != nil {
		return sink.close, err
	}
	got, err := sink.wait(ctx, 1, d.opts.StepTimeout)
	if err != nil {
		return sink.close, err
	}
	d.res.NotificationLatency = time.Since(pushed)
	d.printf("✓ notification %s after the push: %s %s: %s\n", round(d.res.NotificationLatency), got[0].Severity, got[0].Reason, got[0].Message)
	for i := range repeats {
		if err := d.requestKustomization(ctx, fmt.Sprintf("demo-repeat-%d", i)); err != nil {
			return sink.close, err
		}
	}
	d.printf("✓ %d more failing reconciles of %s: no new notification (the same failure)\n", repeats, short(rev))

	d.printf("→ pushing the fix (broken.yaml removed)\n")
	fixed, err := d.push(ctx, "Fix the build", nil, []string{"broken.yaml"})
	if err != nil {
		return sink.close, err
	}
	pushed = time.Now()
	if err := d.gitopsctl(ctx, reconcileArgs...); err != nil {
		return sink.close, err
	}
	got, err = sink.wait(ctx, 2, d.opts.StepTimeout)
	if err != nil {
		return sink.close, err
	}
	res := got[1]
	if !strings.HasPrefix(res.Message, "resolved after") {
		return sink.close, fmt.Errorf("the second notification is not a resolution: %s %s", res.Reason, res.Message)
	}
	d.printf("✓ notification %s after the push of %s: %s %s: %s\n", since(pushed), short(fixed), res.Severity, res.Reason, res.Message)
	if n := len(sink.received()); n != 2 {
		return sink.close, fmt.Errorf("the sink got %d notifications, want 2", n)
	}
	d.printf("✓ %d failing reconciles and a fix: 2 notifications in all\n", repeats+1)
	return sink.close, nil
}

// requestKustomization asks for a reconcile of the Kustomization and waits
// until it was handled.
func (d *demo) requestKustomization(ctx context.Context, token string) error {
	ks := &kustomizev1.Kustomization{}
	key := client.ObjectKey{Namespace: Namespace, Name: Name}
	if err := d.update(ctx, key, ks, func() {
		a := ks.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[reconcile.RequestedAtAnnotation] = token
		ks.SetAnnotations(a)
	}); err != nil {
		return err
	}
	return d.waitFor(ctx, ks, &kustomizev1.KustomizationList{}, func() bool { return ks.Status.LastHandledReconcileAt == token })
}

// sink is a webhook receiving the generic provider's events.
type sink struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	evs  []events.Event
	more chan struct{}
}

// startSink serves a sink on a loopback port.
func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String(), more: make(chan struct{}, 1)}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	var e events.Event
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&e); err != nil {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.evs = append(s.evs, e)
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

func (s *sink) received() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]events.Event(nil), s.evs...)
}

// wait returns what was received once there are n, or fails after
// timeout.
func (s *sink) wait(ctx context.Context, n int, timeout time.Duration) ([]events.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if got := s.received(); len(got) >= n {
			return got, nil
		}
		select {
		case <-s.more:
		case <-ctx.Done():
			return nil, fmt.Errorf("the webhook sink got %d notifications after %s, want %d", len(s.received()), timeout, n)
		}
	}
}

func (s *sink) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
