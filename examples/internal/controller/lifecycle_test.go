package controller_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	testenv.Main(m, &env, testenv.WithScheme(s), testenv.WithCRDPaths("../../config/crd/bases"))
}

// owned are the conditions the test lifecycles write.
var owned = []string{conditions.Ready, conditions.Reconciling, conditions.Stalled}

// newRepo creates a GitRepository to run Lifecycles on, and returns the
// request naming it.
func newRepo(t *testing.T) ctrl.Request {
	t.Helper()
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: env.Namespace(t)},
		Spec: sourcev1.GitRepositorySpec{
			URL:      "https://example.com/repo.git",
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	env.Create(t, obj)
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)}
}

// stored reads the object as the API server holds it.
func stored(t *testing.T, req ctrl.Request) *sourcev1.GitRepository {
	t.Helper()
	obj := &sourcev1.GitRepository{}
	if err := env.Client().Get(context.Background(), req.NamespacedName, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func lifecycle(rec *metrics.Recorder, fn func(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (conditions.Summary, error)) controllers.Lifecycle[*sourcev1.GitRepository] {
	return controllers.Lifecycle[*sourcev1.GitRepository]{
		Client:          env.Client(),
		Metrics:         rec,
		Finalizer:       "test.gitopskit.dev/finalizer",
		OwnedConditions: owned,
		Finalize:        func(context.Context, *sourcev1.GitRepository, *controllers.Reporter) error { return nil },
		Reconcile:       fn,
	}
}

// TestPanicIsNeverSuccess: a reconcile that panics is recorded as
// Ready=False with InternalError, its half-made status changes are not
// written, the panic is counted and the error returned for a retry — for
// any panic value, including one that carries a masked secret.
func TestPanicIsNeverSuccess(t *testing.T) {
	t.Parallel()
	req := newRepo(t)
	rec := metrics.NewRecorder()
	var logs strings.Builder
	var mu sync.Mutex
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(args + "\n")
	}, funcr.Options{Verbosity: 1})
	ctx := logr.NewContext(t.Context(), log)

	l := lifecycle(rec, func(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (conditions.Summary, error) {
		rep.Mask("hunter22")
		obj.Status.Artifact = nil
		obj.Status.ObservedIgnore = ptr("half-made")
		conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "looks done")
		panic(fmt.Sprintf("token hunter22 in a %s", "panic"))
	})
	_, err := l.Run(ctx, req, &sourcev1.GitRepository{})
	var pe *reconcile.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want the panic as an error (retried)", err)
	}
	got := stored(t, req)
	ready := conditions.Get(got, conditions.Ready)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != conditions.InternalErrorReason {
		t.Fatalf("Ready = %+v, want False/%s", ready, conditions.InternalErrorReason)
	}
	if !conditions.IsTrue(got, conditions.Reconciling) {
		t.Error("a panicked reconcile is not marked Reconciling (retrying)")
	}
	if strings.Contains(ready.Message, "hunter22") || !strings.Contains(ready.Message, "token *** in a panic") {
		t.Errorf("Ready message %q: want the panic value, masked", ready.Message)
	}
	if got.Status.ObservedIgnore != nil {
		t.Errorf("the panicked reconcile's status change was written: observedIgnore %q", *got.Status.ObservedIgnore)
	}
	if problems := conditions.Check(got); len(problems) > 0 {
		t.Errorf("conditions break kstatus conventions: %v", problems)
	}
	if n := panics(t, rec, got); n != 1 {
		t.Errorf("panic counter = %v, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "reconcile panicked") || !strings.Contains(logs.String(), "lifecycle_test.go") {
		t.Errorf("the panic is not logged with its stack:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "hunter22") {
		t.Errorf("a masked value reached the log:\n%s", logs.String())
	}
}

// TestEndingWithoutResultIsNotSuccess: a reconcile goroutine that exits
// without returning (runtime.Goexit, as t.FailNow does) is not success.
func TestEndingWithoutResultIsNotSuccess(t *testing.T) {
	t.Parallel()
	req := newRepo(t)
	l := lifecycle(nil, func(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (conditions.Summary, error) {
		runtime.Goexit()
		return conditions.Summary{}, nil
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = l.Run(t.Context(), req, &sourcev1.GitRepository{})
	}()
	<-done
	ready := conditions.Get(stored(t, req), conditions.Ready)
	if ready == nil || ready.Status != metav1.ConditionFalse {
		t.Fatalf("Ready = %+v after a reconcile that never returned, want False", ready)
	}
}

// TestOutcomeWrittenAfterCancel: a reconcile stopped by its context (a
// shutdown cancelling a Helm action or an apply) still has its outcome
// written: what it did before it stopped is recorded.
func TestOutcomeWrittenAfterCancel(t *testing.T) {
	t.Parallel()
	req := newRepo(t)
	ctx, cancel := context.WithCancel(t.Context())
	l := lifecycle(nil, func(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (conditions.Summary, error) {
		obj.Status.ObservedIgnore = ptr("recorded before the cancel")
		cancel()
		<-ctx.Done()
		return conditions.Summary{}, fmt.Errorf("upgrade interrupted: %w", ctx.Err())
	})
	if _, err := l.Run(ctx, req, &sourcev1.GitRepository{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want the cancellation", err)
	}
	got := stored(t, req)
	ready := conditions.Get(got, conditions.Ready)
	if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, "upgrade interrupted") {
		t.Errorf("Ready = %+v, want False saying the upgrade was interrupted", ready)
	}
	if got.Status.ObservedIgnore == nil || *got.Status.ObservedIgnore != "recorded before the cancel" {
		t.Errorf("status of the cancelled reconcile not written: observedIgnore %v", got.Status.ObservedIgnore)
	}
}

// TestProgressIsWrittenWhileRunning: Progress writes Reconciling=True and
// Ready=Unknown at once, a repeated identical Progress sends no request,
// and the final status replaces it.
func TestProgressIsWrittenWhileRunning(t *testing.T) {
	t.Parallel()
	req := newRepo(t)
	var statusPatches atomic.Int32
	plain, err := client.NewWithWatch(env.Config(), client.Options{Scheme: env.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	c := interceptor.NewClient(plain, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			statusPatches.Add(1)
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
	var during *sourcev1.GitRepository
	var patchesAfterRepeat int32
	l := lifecycle(nil, func(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (conditions.Summary, error) {
		rep.Progress(ctx, "fetching revision %s", "main")
		during = stored(t, req)
		n := statusPatches.Load()
		rep.Progress(ctx, "fetching revision %s", "main")
		patchesAfterRepeat = statusPatches.Load() - n
		return conditions.Summary{SuccessMessage: "stored"}, nil
	})
	l.Client = c
	if _, err := l.Run(t.Context(), req, &sourcev1.GitRepository{}); err != nil {
		t.Fatal(err)
	}
	if r := conditions.Get(during, conditions.Ready); r == nil || r.Status != metav1.ConditionUnknown || r.Message != "fetching revision main" {
		t.Errorf("Ready while running = %+v, want Unknown with the progress message", r)
	}
	if r := conditions.Get(during, conditions.Reconciling); r == nil || r.Status != metav1.ConditionTrue {
		t.Errorf("Reconciling while running = %+v, want True", r)
	}
	if problems := conditions.Check(during); len(problems) > 0 {
		t.Errorf("progress breaks kstatus conventions: %v", problems)
	}
	if patchesAfterRepeat != 0 {
		t.Errorf("a repeated identical progress sent %d status patches, want 0", patchesAfterRepeat)
	}
	final := stored(t, req)
	if !conditions.IsReady(final) || conditions.Get(final, conditions.Reconciling) != nil {
		t.Errorf("final conditions = %+v, want Ready and no Reconciling", final.Status.Conditions)
	}
}

// TestMaskedValuesNeverWritten: a value given to Mask does not appear in
// any condition the Lifecycle writes, however the error quotes it.
func TestMaskedValuesNeverWritten(t *testing.T) {
	t.Parallel()
	req := newRepo(t)
	l := lifecycle(nil, func(ctx context.Context, obj *sourcev1.GitRepository, rep *controllers.Reporter) (conditions.Summary, error) {
		rep.Mask("pa$$word\n2")
		rep.Progress(ctx, "using pa$$word\n2")
		return conditions.Summary{}, fmt.Errorf(`metadata.labels: Invalid value: %q: must be valid`, "pa$$word\n2")
	})
	_, _ = l.Run(t.Context(), req, &sourcev1.GitRepository{})
	for _, c := range stored(t, req).Status.Conditions {
		if strings.Contains(c.Message, "pa$$word") {
			t.Errorf("condition %s carries the masked value: %q", c.Type, c.Message)
		}
	}
}

func TestSteady(t *testing.T) {
	obj := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	if controllers.Steady(obj) {
		t.Error("an object without Ready is steady")
	}
	conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "ok")
	if !controllers.Steady(obj) {
		t.Error("a Ready object at its generation is not steady")
	}
	obj.Generation = 3
	if controllers.Steady(obj) {
		t.Error("a Ready object of an older generation is steady")
	}
	conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "ok")
	obj.Annotations = map[string]string{reconcile.RequestedAtAnnotation: "now"}
	if controllers.Steady(obj) {
		t.Error("a pending reconcile request is steady")
	}
	obj.Status.LastHandledReconcileAt = "now"
	if !controllers.Steady(obj) {
		t.Error("a handled request is not steady")
	}
}

// panics returns the panic counter of obj in rec.
func panics(t *testing.T, rec *metrics.Recorder, obj client.Object) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := rec.Register(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gitopskit_reconcile_panics_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == obj.GetName() {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func ptr[T any](v T) *T { return &v }
