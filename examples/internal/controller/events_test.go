package controller_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// drain returns the events the fake recorder holds, one per line
// ("Type Reason Message").
func drain(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// TestEventsOfOutcomes: a failure is one Warning with the Ready reason —
// also when the Lifecycle requeues it itself (RetryInterval), where the
// controller-runtime result carries no error; a wait is a trace event, not
// a warning; a success after a failure is a Normal event unless the
// reconciler reported what it did; a steady success says nothing; secrets
// are masked in every message.
func TestEventsOfOutcomes(t *testing.T) {
	t.Parallel()
	req := newRepo(t)
	events := record.NewFakeRecorder(32)
	var outcome func(rep *controllers.Reporter) (conditions.Summary, error)
	l := lifecycle(nil, func(_ context.Context, _ *sourcev1.GitRepository, rep *controllers.Reporter) (conditions.Summary, error) {
		rep.Mask("s3cr3t")
		return outcome(rep)
	})
	l.Events = events
	l.RetryInterval = func(*sourcev1.GitRepository) time.Duration { return time.Minute }
	run := func(fn func(rep *controllers.Reporter) (conditions.Summary, error)) []string {
		t.Helper()
		outcome = fn
		_, _ = l.Run(t.Context(), req, &sourcev1.GitRepository{})
		return drain(events)
	}
	ok := func(*controllers.Reporter) (conditions.Summary, error) {
		return conditions.Summary{SuccessMessage: "stored revision main@sha1:1"}, nil
	}

	for _, step := range []struct {
		name string
		fn   func(*controllers.Reporter) (conditions.Summary, error)
		want []string // prefixes, in order
	}{
		{"first success", ok, nil},
		{"steady success", ok, nil},
		{"failure requeued by the lifecycle", func(rep *controllers.Reporter) (conditions.Summary, error) {
			rep.SetRevision("main@sha1:2")
			return conditions.Summary{}, reconcile.Fail("FetchFailed", errors.New("auth s3cr3t refused"))
		}, []string{"Warning FetchFailed auth *** refused"}},
		{"wait", func(*controllers.Reporter) (conditions.Summary, error) {
			return conditions.Summary{}, reconcile.Wait("DependencyNotReady", time.Second, errors.New("dependency base is not ready"))
		}, []string{"Trace DependencyNotReady dependency base is not ready"}},
		{"recovery", ok, []string{"Normal Succeeded stored revision main@sha1:1"}},
		{"failure, then a recovery the reconciler reports", func(*controllers.Reporter) (conditions.Summary, error) {
			return conditions.Summary{}, errors.New("boom")
		}, []string{"Warning ReconciliationFailed boom"}},
		{"reported recovery", func(rep *controllers.Reporter) (conditions.Summary, error) {
			rep.Eventf("Normal", "NewArtifact", "stored artifact for %s", "main@sha1:3")
			return conditions.Summary{SuccessMessage: "stored"}, nil
		}, []string{"Normal NewArtifact stored artifact for main@sha1:3"}},
	} {
		got := run(step.fn)
		if len(got) != len(step.want) {
			t.Fatalf("%s: events %q, want %q", step.name, got, step.want)
		}
		for i := range got {
			if !strings.HasPrefix(got[i], step.want[i]) {
				t.Errorf("%s: event %q, want %q", step.name, got[i], step.want[i])
			}
			if strings.Contains(got[i], "s3cr3t") {
				t.Errorf("%s: event carries the masked value: %q", step.name, got[i])
			}
		}
	}
}

// TestSuspensionEvents: one Suspended event when a suspension starts and
// one Resumed when it ends, however often the object is reconciled.
func TestSuspensionEvents(t *testing.T) {
	t.Parallel()
	req := newRepo(t)
	events := record.NewFakeRecorder(32)
	l := lifecycle(nil, func(context.Context, *sourcev1.GitRepository, *controllers.Reporter) (conditions.Summary, error) {
		return conditions.Summary{SuccessMessage: "stored"}, nil
	})
	l.Events = events
	l.Suspension = &controllers.Suspension{}
	suspend := func(v bool) {
		t.Helper()
		obj := stored(t, req)
		patch := client.MergeFrom(obj.DeepCopy())
		obj.Spec.Suspend = v
		if err := env.Client().Patch(t.Context(), obj, patch); err != nil {
			t.Fatal(err)
		}
	}
	runs := func(n int) []string {
		t.Helper()
		for range n {
			if _, err := l.Run(t.Context(), req, &sourcev1.GitRepository{}); err != nil {
				t.Fatal(err)
			}
		}
		return drain(events)
	}
	if got := runs(2); len(got) != 0 {
		t.Fatalf("events before any suspension: %q", got)
	}
	suspend(true)
	if got := runs(3); len(got) != 1 || !strings.HasPrefix(got[0], "Normal Suspended") {
		t.Fatalf("events while suspended: %q, want one Suspended", got)
	}
	suspend(false)
	if got := runs(3); len(got) != 1 || !strings.HasPrefix(got[0], "Normal Resumed") {
		t.Fatalf("events after resuming: %q, want one Resumed", got)
	}
}
