package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/internal/testapi"
	"github.com/gitopskit/kit/runtime/patch"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// thingReconciler is the README's reconciler, for the Gadget test type.
type thingReconciler struct {
	client.Client
	work func(ctx context.Context, obj *testapi.Gadget) error
}

func (r *thingReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	obj := &testapi.Gadget{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if reconcile.Skip(obj) { // spec.suspend, unless being deleted
		return ctrl.Result{}, nil
	}
	helper, err := patch.NewHelper(obj, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		if v := recover(); v != nil {
			// Without this, a panic unwinds through here with err == nil
			// and the status write below records Ready=True.
			err = reconcile.FromPanic(v) // Ready=False, InternalError, retried
		}
		// nil → Ready=True; reconcile.Stall → Stalled; reconcile.Wait → requeue;
		// other errors → Ready=False + Reconciling=True, retried.
		res, err = reconcile.Result(obj, err, reconcile.ResultOptions{
			Interval:      time.Hour,
			RetryInterval: time.Minute,
			Summary:       conditions.Summary{Owned: []string{"SourceVerified"}},
		})
		err = errors.Join(err, helper.Patch(ctx, obj, patch.Options{
			OwnedConditions:    []string{conditions.Ready, conditions.Reconciling, conditions.Stalled, "SourceVerified"},
			ObservedGeneration: true,
		}))
	}()
	conditions.MarkReconciling(obj, conditions.ProgressingReason, "reconciling %s", obj.Name)
	return ctrl.Result{}, r.work(ctx, obj)
}

// The README's reconciler, compiled: conditions, patch and reconcile
// around the controller's own work, set up so that only spec changes and
// reconcile requests trigger it.
func Example() {
	var r crreconcile.Reconciler = &thingReconciler{}
	setup := func(mgr ctrl.Manager) error {
		return ctrl.NewControllerManagedBy(mgr).
			For(&testapi.Gadget{}, builder.WithPredicates(reconcile.GenerationOrRequestChanged())).
			Complete(r)
	}
	_ = setup
}

// A panicking reconcile becomes a failure Result reports, never a success.
func ExampleFromPanic() {
	obj := &testapi.Gadget{}
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = reconcile.FromPanic(v)
			}
		}()
		var m map[string]int
		m["boom"]++
	}()
	_, _ = reconcile.Result(obj, err, reconcile.ResultOptions{})
	ready := conditions.Get(obj, conditions.Ready)
	fmt.Println(ready.Status, ready.Reason)
	// Output: False InternalError
}

// TestReadmeReconciler runs the README's reconciler on the real API server:
// a success is Ready=True, a panic Ready=False/InternalError.
func TestReadmeReconciler(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	g := &testapi.Gadget{ObjectMeta: metav1.ObjectMeta{Name: "readme", Namespace: env.Namespace(t)}}
	if err := env.Client().Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(g)}
	for _, tc := range []struct {
		work   func(context.Context, *testapi.Gadget) error
		status metav1.ConditionStatus
		reason string
	}{
		{func(context.Context, *testapi.Gadget) error { return nil }, metav1.ConditionTrue, conditions.SucceededReason},
		{func(context.Context, *testapi.Gadget) error { panic("boom") }, metav1.ConditionFalse, conditions.InternalErrorReason},
	} {
		r := &thingReconciler{Client: env.Client(), work: tc.work}
		_, _ = r.Reconcile(ctx, req)
		if err := env.Client().Get(ctx, req.NamespacedName, g); err != nil {
			t.Fatal(err)
		}
		if c := conditions.Get(g, conditions.Ready); c == nil || c.Status != tc.status || c.Reason != tc.reason {
			t.Errorf("Ready = %+v, want %s/%s", c, tc.status, tc.reason)
		}
	}
}
