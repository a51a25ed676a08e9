package reconcile_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/internal/testapi"
	"github.com/gitopskit/kit/runtime/patch"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	s := runtime.NewScheme()
	if err := testapi.AddToScheme(s); err != nil {
		panic(err)
	}
	testenv.Main(m, &env, testenv.WithScheme(s), testenv.WithCRDs(testapi.CRD()))
}

func gadget(gen int64, annotations map[string]string) *testapi.Gadget {
	return &testapi.Gadget{ObjectMeta: metav1.ObjectMeta{Name: "g", Namespace: "ns", Generation: gen, Annotations: annotations}}
}

func TestRequestSemantics(t *testing.T) {
	tests := []struct {
		name                string
		annotations         map[string]string
		lastHandled         string
		ok, force, reset, p bool
	}{
		{name: "none"},
		{name: "new request", annotations: map[string]string{reconcile.RequestedAtAnnotation: "t1"}, ok: true, p: true},
		{name: "handled", annotations: map[string]string{reconcile.RequestedAtAnnotation: "t1"}, lastHandled: "t1", ok: true},
		{name: "force with matching request",
			annotations: map[string]string{reconcile.RequestedAtAnnotation: "t2", reconcile.ForceAtAnnotation: "t2"},
			lastHandled: "t1", ok: true, force: true, p: true},
		{name: "stale force is not replayed",
			annotations: map[string]string{reconcile.RequestedAtAnnotation: "t3", reconcile.ForceAtAnnotation: "t2", reconcile.ResetAtAnnotation: "t1"},
			lastHandled: "t2", ok: true, p: true},
		{name: "reset", annotations: map[string]string{reconcile.RequestedAtAnnotation: "t4", reconcile.ResetAtAnnotation: "t4"}, ok: true, reset: true, p: true},
		{name: "force without request", annotations: map[string]string{reconcile.ForceAtAnnotation: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := reconcile.GetRequest(gadget(1, tt.annotations))
			got := [4]bool{ok, r.Force(), r.Reset(), r.Pending(tt.lastHandled)}
			if want := [4]bool{tt.ok, tt.force, tt.reset, tt.p}; got != want {
				t.Errorf("ok, force, reset, pending = %v, want %v", got, want)
			}
		})
	}
}

func TestGenerationOrRequestChanged(t *testing.T) {
	p := reconcile.GenerationOrRequestChanged()
	req := func(v string) map[string]string { return map[string]string{reconcile.RequestedAtAnnotation: v} }
	deleting := gadget(1, nil)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	statusOnly := gadget(1, nil)
	statusOnly.Status.Revision = "new"
	tests := []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"spec change", gadget(1, nil), gadget(2, nil), true},
		{"status only", gadget(1, nil), statusOnly, false},
		{"new request", gadget(1, req("a")), gadget(1, req("b")), true},
		{"first request", gadget(1, nil), gadget(1, req("a")), true},
		{"same request, other annotation", gadget(1, req("a")), gadget(1, map[string]string{reconcile.RequestedAtAnnotation: "a", "x": "y"}), false},
		{"request removed", gadget(1, req("a")), gadget(1, nil), false},
		{"deletion starts", gadget(1, nil), deleting, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Update(event.UpdateEvent{ObjectOld: tt.old, ObjectNew: tt.new}); got != tt.want {
				t.Errorf("Update = %v, want %v", got, tt.want)
			}
		})
	}
	if !p.Create(event.CreateEvent{Object: gadget(1, nil)}) || !p.Delete(event.DeleteEvent{Object: gadget(1, nil)}) {
		t.Error("creations and deletions must pass")
	}
}

func TestSkipSuspended(t *testing.T) {
	g := gadget(1, nil)
	if reconcile.Skip(g) {
		t.Error("not suspended but skipped")
	}
	g.Spec.Suspend = true
	if !reconcile.Skip(g) {
		t.Error("suspended but not skipped")
	}
	g.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	if reconcile.Skip(g) {
		t.Error("suspended object being deleted is skipped: its finalizer would never run")
	}
}

func TestJitter(t *testing.T) {
	const d = 10 * time.Minute
	lo, hi := d, d
	for range 2000 {
		j := reconcile.Jitter(d, 0.1)
		if j < d-d/10 || j > d+d/10 {
			t.Fatalf("Jitter(%v, 0.1) = %v, outside ±10%%", d, j)
		}
		lo, hi = min(lo, j), max(hi, j)
	}
	if hi-lo < d/10 {
		t.Errorf("2000 draws spread only over %v: not jittered", hi-lo)
	}
	if got := reconcile.Jitter(d, 0); got != d {
		t.Errorf("Jitter(d, 0) = %v", got)
	}
	if got := reconcile.Jitter(d, 5); got < 0 || got > 2*d {
		t.Errorf("fraction is not clamped: %v", got)
	}
}

func TestResult(t *testing.T) {
	opts := reconcile.ResultOptions{
		Interval:      10 * time.Minute,
		RetryInterval: time.Minute,
		Summary:       conditions.Summary{Owned: []string{"Fetched"}},
	}
	tests := []struct {
		name          string
		err           error
		opts          *reconcile.ResultOptions
		ready         metav1.ConditionStatus
		reason        string
		reconciling   bool
		stalled       bool
		requeue       time.Duration // approximate, ±5%
		wantErr       bool
		wantTerminal  bool
		handledRecord bool
	}{
		{name: "success", ready: metav1.ConditionTrue, reason: conditions.SucceededReason, requeue: 10 * time.Minute, handledRecord: true},
		{name: "transient failure with retry interval", err: reconcile.Fail("FetchFailed", errors.New("connection refused")),
			ready: metav1.ConditionFalse, reason: "FetchFailed", reconciling: true, requeue: time.Minute, handledRecord: true},
		{name: "transient failure without retry interval returns the error",
			err: errors.New("boom"), opts: &reconcile.ResultOptions{}, ready: metav1.ConditionFalse, reason: conditions.FailedReason,
			reconciling: true, wantErr: true, handledRecord: true},
		{name: "stalled", err: fmt.Errorf("parsing: %w", reconcile.Stall("InvalidURL", errors.New("bad url"))),
			ready: metav1.ConditionFalse, reason: "InvalidURL", stalled: true, wantErr: true, wantTerminal: true, handledRecord: true},
		{name: "waiting", err: reconcile.Wait(conditions.DependencyNotReadyReason, 30*time.Second, errors.New("dependency 'ns/a' is not ready")),
			ready: metav1.ConditionFalse, reason: conditions.DependencyNotReadyReason, reconciling: true, requeue: 30 * time.Second, handledRecord: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gadget(2, map[string]string{reconcile.RequestedAtAnnotation: "now"})
			g.Status.ObservedGeneration = 2
			conditions.MarkReconciling(g, conditions.ProgressingReason, "working")
			o := opts
			if tt.opts != nil {
				o = *tt.opts
			}
			res, err := reconcile.Result(g, tt.err, o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error: %v", err, tt.wantErr)
			}
			if errors.Is(err, crreconcile.TerminalError(nil)) != tt.wantTerminal {
				t.Errorf("terminal = %v, want %v", !tt.wantTerminal, tt.wantTerminal)
			}
			ready := conditions.Get(g, conditions.Ready)
			if ready == nil || ready.Status != tt.ready || ready.Reason != tt.reason {
				t.Fatalf("Ready = %+v, want %s/%s", ready, tt.ready, tt.reason)
			}
			if tt.err != nil && ready.Message != tt.err.Error() {
				t.Errorf("Ready message %q, want the error's %q", ready.Message, tt.err.Error())
			}
			if conditions.IsTrue(g, conditions.Reconciling) != tt.reconciling || conditions.IsTrue(g, conditions.Stalled) != tt.stalled {
				t.Errorf("conditions = %+v", g.Status.Conditions)
			}
			if tt.requeue == 0 && res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %v, want none", res.RequeueAfter)
			}
			if tt.requeue != 0 && (res.RequeueAfter < tt.requeue*95/100 || res.RequeueAfter > tt.requeue*105/100) {
				t.Errorf("RequeueAfter = %v, want %v ±5%%", res.RequeueAfter, tt.requeue)
			}
			if tt.handledRecord && g.Status.LastHandledReconcileAt != "now" {
				t.Errorf("lastHandledReconcileAt = %q", g.Status.LastHandledReconcileAt)
			}
			if problems := conditions.Check(g); len(problems) > 0 {
				t.Errorf("conditions break kstatus conventions: %v", problems)
			}
		})
	}
}

// TestResultRoundTrip runs what a reconciler does end to end on the real API
// server: patch helper, Result, patch, and checks what the server stored.
func TestResultRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := &testapi.Gadget{ObjectMeta: metav1.ObjectMeta{
		Name: "g", Namespace: env.Namespace(t),
		Annotations: map[string]string{reconcile.RequestedAtAnnotation: "2026-11-23T15:00:00Z"},
	}}
	if err := env.Client().Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{errors.New("source unreachable"), nil} {
		h, err := patch.NewHelper(g, env.Client())
		if err != nil {
			t.Fatal(err)
		}
		conditions.MarkReconciling(g, conditions.ProgressingReason, "reconciling")
		_, _ = reconcile.Result(g, step, reconcile.ResultOptions{RetryInterval: time.Second})
		if err := h.Patch(ctx, g, patch.Options{
			OwnedConditions:    []string{conditions.Ready, conditions.Reconciling, conditions.Stalled},
			ObservedGeneration: true,
		}); err != nil {
			t.Fatal(err)
		}
		stored := &testapi.Gadget{}
		if err := env.Client().Get(ctx, client.ObjectKeyFromObject(g), stored); err != nil {
			t.Fatal(err)
		}
		if problems := conditions.Check(stored); len(problems) > 0 {
			t.Errorf("after %v: %v", step, problems)
		}
		if stored.Status.LastHandledReconcileAt != "2026-11-23T15:00:00Z" {
			t.Errorf("lastHandledReconcileAt = %q", stored.Status.LastHandledReconcileAt)
		}
		if (step == nil) != conditions.IsReady(stored) {
			t.Errorf("after %v: Ready = %+v", step, conditions.Get(stored, conditions.Ready))
		}
	}
}

func TestFromPanic(t *testing.T) {
	var err error
	func() {
		defer func() { err = reconcile.FromPanic(recover()) }()
		var m map[string]int
		m["x"]++ // a nil-map write: a runtime.Error
	}()
	var pe *reconcile.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("FromPanic = %T, want a *PanicError inside", err)
	}
	if !strings.Contains(string(pe.Stack), "TestFromPanic") {
		t.Errorf("stack does not show where the panic happened:\n%s", pe.Stack)
	}
	var rte interface{ RuntimeError() }
	if !errors.As(err, &rte) {
		t.Error("the runtime.Error the panic carried does not unwrap")
	}

	g := gadget(3, nil)
	if _, rerr := reconcile.Result(g, err, reconcile.ResultOptions{Interval: time.Hour}); rerr == nil {
		t.Error("a panic is not retried: Result returned no error")
	}
	ready := conditions.Get(g, conditions.Ready)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != conditions.InternalErrorReason {
		t.Fatalf("Ready = %+v, want False/%s", ready, conditions.InternalErrorReason)
	}
	if !strings.HasPrefix(ready.Message, "internal error: the reconciler panicked: ") || strings.Contains(ready.Message, "goroutine") {
		t.Errorf("Ready message %q: want the panic value and no stack", ready.Message)
	}

	long := reconcile.FromPanic(strings.Repeat("é", 2000)).Error()
	if len(long) > 600 || !utf8.ValidString(long) {
		t.Errorf("a long panic value gives a %d-byte message (valid UTF-8: %v)", len(long), utf8.ValidString(long))
	}
}
