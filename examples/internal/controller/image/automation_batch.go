package image

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// DefaultBatchWindow is gitopsd's --image-update-batch-window: long
// enough for the ImagePolicies of one release (their ImageRepositories
// scanned one after the other) to land in one commit, short beside a
// scan interval.
const DefaultBatchWindow = 5 * time.Second

// maxBatchDelay bounds, in windows, how long a burst of ImagePolicy
// changes that never pauses holds its automation back.
const maxBatchDelay = 10

// batches tracks, per automation, the ImagePolicy changes not yet written:
// the first and the last one's time. Its methods take the time, so the
// decision is a pure function of the times seen.
type batches struct {
	mu      sync.Mutex
	pending map[types.NamespacedName]batch
}

type batch struct{ first, last time.Time }

// changed records a policy change for key at now.
func (b *batches) changed(key types.NamespacedName, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[types.NamespacedName]batch{}
	}
	p, ok := b.pending[key]
	if !ok {
		p.first = now
	}
	p.last = now
	b.pending[key] = p
}

// wait returns how long key should still wait at now for its batch of
// changes to be complete: until window has passed since the last change,
// and at most maxBatchDelay windows after the first. Zero: run now (the
// batch, if any, is taken: changes from now on start a new one).
func (b *batches) wait(key types.NamespacedName, now time.Time, window time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.pending[key]
	if !ok || window <= 0 {
		delete(b.pending, key)
		return 0
	}
	due := p.last.Add(window)
	if limit := p.first.Add(maxBatchDelay * window); limit.Before(due) {
		due = limit
	}
	if d := due.Sub(now); d > 0 {
		return d
	}
	delete(b.pending, key)
	return 0
}

// policyChanges enqueues the automations of a changed ImagePolicy's
// namespace BatchWindow later, recording the change, so that the changes
// of one burst collapse into one reconcile (the workqueue keeps one item
// per automation, ready at the earliest time asked).
func (r *ImageUpdateAutomationReconciler) policyChanges() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[crreconcile.Request]
	enqueue := func(ctx context.Context, o client.Object, q queue) {
		now := time.Now()
		for _, req := range r.automationsOf(ctx, o) {
			if r.BatchWindow <= 0 {
				q.Add(req)
				continue
			}
			r.batches.changed(req.NamespacedName, now)
			q.AddAfter(req, r.BatchWindow)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) { enqueue(ctx, e.Object, q) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) { enqueue(ctx, e.ObjectNew, q) },
	}
}
