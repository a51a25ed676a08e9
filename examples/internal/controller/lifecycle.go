package controller

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/kit/events/recorder"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/patch"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// Reconciled is what a Lifecycle runs: an object with status conditions,
// spec.suspend and spec.interval.
type Reconciled interface {
	reconcile.Object
	reconcile.Suspender
	GetInterval() time.Duration
}

// Lifecycle is the part of a reconcile every gitopsd reconciler shares, so
// each one writes only its own work: read the object, record metrics, honour
// suspend, keep a finalizer, finalize on deletion, turn the outcome into
// Ready/Reconciling/Stalled and a requeue (runtime/reconcile.Result), and
// write the status once (runtime/patch), owning only its conditions.
//
// Only a Reconcile or Finalize that returned can make an object Ready: a
// panic is recovered into Ready=False (reconcile.FromPanic), with the
// object's status as it was read, and a reconcile that ends without
// returning (runtime.Goexit) is a failure too. Every message the status
// write carries, and the logged error, pass through the Reporter's masks.
type Lifecycle[T Reconciled] struct {
	// Client reads and patches the object.
	Client client.Client
	// Metrics, when not nil, records every reconcile.
	Metrics *metrics.Recorder
	// Events, when not nil, records the reconcile's events (see Run).
	Events record.EventRecorder
	// Suspension, when not nil, remembers which objects were seen
	// suspended, for the Suspended and Resumed events.
	Suspension *Suspension
	// Finalizer is kept on the object until Finalize succeeded.
	Finalizer string
	// OwnedConditions are the condition types the reconciler writes.
	OwnedConditions []string
	// SummaryOwned are the positive-polarity conditions Ready summarises,
	// added to the Summary Reconcile returns.
	SummaryOwned []string
	// RetryInterval returns how soon a failure is retried; nil means
	// reconcile.Result's default (the interval).
	RetryInterval func(obj T) time.Duration
	// Finalize cleans up what the object made, once it is being deleted.
	// The finalizer is removed when it returns nil; an error is recorded
	// in the conditions and retried.
	Finalize func(ctx context.Context, obj T, rep *Reporter) error
	// Reconcile does the work and returns the summary Ready is computed
	// with. Its error decides the conditions (reconcile.Stall, Wait, Fail).
	Reconcile func(ctx context.Context, obj T, rep *Reporter) (conditions.Summary, error)
}

// Run reconciles the object req names, read into obj (a new, empty object
// of the reconciled kind).
//
// Events: every failure is a Warning event with the Ready reason and
// message (a wait for a dependency a trace event: it is no failure, and
// must not read as recovery either); a success after a failure is a
// Normal event unless the reconciler reported what it did itself
// (Reporter.Eventf); progress is a trace event; the start and end of a
// suspension are Normal events. Messages are masked like the conditions.
func (l Lifecycle[T]) Run(ctx context.Context, req ctrl.Request, obj T) (res ctrl.Result, retErr error) {
	start := time.Now()
	if err := l.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone without our finalizer (or it was removed by hand).
			obj.SetName(req.Name)
			obj.SetNamespace(req.Namespace)
			deleteMetrics(l.Metrics, obj)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Deferred first, so it runs last: after the status write.
	defer recordMetrics(l.Metrics, obj, l.Finalizer, start)
	if reconcile.Skip(obj) {
		if l.Suspension.start(obj) {
			l.event(obj, corev1.EventTypeNormal, "Suspended", nil, "reconciliation is suspended")
		}
		return ctrl.Result{}, nil
	}
	if l.Suspension.end(obj) {
		l.event(obj, corev1.EventTypeNormal, "Resumed", nil, "reconciliation resumed")
	}
	helper, err := patch.NewHelper(obj, l.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	deleting := !obj.GetDeletionTimestamp().IsZero()
	if deleting && !controllerutil.ContainsFinalizer(obj, l.Finalizer) {
		return ctrl.Result{}, nil
	}
	// Persist the finalizer before the object's work makes anything (an
	// artifact, an applied object) that could otherwise outlive it.
	if !deleting && !controllerutil.ContainsFinalizer(obj, l.Finalizer) {
		controllerutil.AddFinalizer(obj, l.Finalizer)
		if err := helper.Patch(ctx, obj, patch.Options{}); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		if helper, err = patch.NewHelper(obj, l.Client); err != nil {
			return ctrl.Result{}, err
		}
	}

	log := logr.FromContextOrDiscard(ctx)
	rep := &Reporter{owned: l.OwnedConditions, client: l.Client, obj: obj, helper: helper, events: l.Events}
	// As read: what a panicking reconcile leaves half-changed is dropped.
	read := obj.DeepCopyObject()
	wasFailing := conditions.IsFalse(obj, conditions.Ready)
	var (
		summary  conditions.Summary
		returned bool
	)
	defer func() {
		if v := recover(); v != nil {
			retErr = reconcile.FromPanic(v)
			var pe *reconcile.PanicError
			errors.As(retErr, &pe)
			log.Error(errors.New(rep.mask(retErr.Error())), "reconcile panicked", "stack", rep.mask(string(pe.Stack)))
			if l.Metrics != nil {
				l.Metrics.RecordPanic(obj)
			}
			restore(obj, read)
			summary = conditions.Summary{}
		} else if !returned && retErr == nil {
			retErr = errors.New("internal error: the reconcile ended without a result")
			restore(obj, read)
			summary = conditions.Summary{}
		}
		if retErr != nil {
			log.Info("reconcile failed", "error", rep.mask(retErr.Error()))
		}
		summary.Owned = append(summary.Owned, l.SummaryOwned...)
		opts := reconcile.ResultOptions{Interval: obj.GetInterval(), Summary: summary}
		if l.RetryInterval != nil {
			opts.RetryInterval = l.RetryInterval(obj)
		}
		// The reconcile's own error: Result returns none for a failure
		// it requeues itself (RetryInterval), which is a failure still.
		failure := retErr
		res, retErr = reconcile.Result(obj, retErr, opts)
		rep.maskConditions()
		rep.outcome(failure, wasFailing)
		// The outcome is written even when the reconcile's context ended
		// (gitopsd shutting down cancelled a Helm action or an apply): what
		// it did before it stopped must be recorded, within a short bound.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusWriteTimeout)
		defer cancel()
		retErr = errors.Join(retErr, rep.helper.Patch(wctx, obj, patch.Options{
			ObservedGeneration: true,
			OwnedConditions:    l.OwnedConditions,
		}))
		log.V(1).Info("reconciled", "duration", time.Since(start).String(), "ready", conditions.IsReady(obj))
	}()

	if deleting {
		err := l.Finalize(ctx, obj, rep)
		returned = true
		if err != nil {
			return ctrl.Result{}, err
		}
		controllerutil.RemoveFinalizer(obj, l.Finalizer)
		l.Suspension.forget(obj)
		return ctrl.Result{}, nil
	}
	summary, err = l.Reconcile(ctx, obj, rep)
	returned = true
	return ctrl.Result{}, err
}

// statusWriteTimeout bounds the final status write of a reconcile whose
// context has ended.
const statusWriteTimeout = 10 * time.Second

// event records an event on obj when an EventRecorder is set.
func (l Lifecycle[T]) event(obj client.Object, eventType, reason string, metadata map[string]string, format string, args ...any) {
	if l.Events != nil {
		l.Events.AnnotatedEventf(obj, metadata, eventType, reason, format, args...)
	}
}

// restore puts back into obj the object as it was read (a copy made by
// DeepCopyObject), dropping whatever a failed reconcile changed in it.
// Both are pointers to the same struct type, as DeepCopyObject promises.
func restore(obj client.Object, read any) {
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(read).Elem())
}

// Reporter is what a Lifecycle hands to Reconcile and Finalize while they
// run: Progress shows what the reconcile is doing in the object's status
// before it ends, and Mask keeps secret values out of every message the
// Lifecycle writes or logs.
type Reporter struct {
	owned    []string
	client   client.Client
	obj      reconcile.Object
	helper   *patch.Helper
	secrets  []string
	events   record.EventRecorder
	revision string
	reported bool // a Normal event said what the reconcile did
}

// Progress marks the object Reconciling=True and Ready=Unknown with the
// message ("applying revision main@sha1:…") and writes that status at once,
// so that a long reconcile never shows a previous outcome as current. The
// write is skipped when the status already says exactly this. Call it when
// real work starts (a new generation or revision, a retry after a failure),
// not on a re-check of an unchanged, Ready object: that one stays silent
// and costs no write.
//
// A failed write is logged and otherwise ignored: the final status write
// comes anyway.
func (r *Reporter) Progress(ctx context.Context, format string, args ...any) {
	conditions.MarkReconciling(r.obj, conditions.ProgressingReason, format, args...)
	conditions.MarkUnknown(r.obj, conditions.Ready, conditions.ProgressingReason, format, args...)
	r.maskConditions()
	r.record(recorder.EventTypeTrace, conditions.ProgressingReason, fmt.Sprintf(format, args...))
	if err := r.helper.Patch(ctx, r.obj, patch.Options{OwnedConditions: r.owned}); err != nil {
		logr.FromContextOrDiscard(ctx).Info("writing progress failed", "error", r.mask(err.Error()))
		return
	}
	if h, err := patch.NewHelper(r.obj, r.client); err == nil {
		r.helper = h
	}
}

// SetRevision names the source revision the reconcile works on: every
// event of the reconcile carries it as metadata (<group>/revision), which
// alerting and commit-status providers read.
func (r *Reporter) SetRevision(revision string) { r.revision = revision }

// Eventf records an event saying what the reconcile did (a new artifact,
// an applied revision and its changes), masked like the conditions. A
// Normal one replaces the Lifecycle's own success event; report news
// only, never a re-check that changed nothing.
func (r *Reporter) Eventf(eventType, reason, format string, args ...any) {
	if eventType == corev1.EventTypeNormal {
		r.reported = true
	}
	r.record(eventType, reason, fmt.Sprintf(format, args...))
}

// record records one event, masked, with the revision as metadata.
func (r *Reporter) record(eventType, reason, msg string) {
	if r.events == nil {
		return
	}
	var md map[string]string
	if r.revision != "" {
		md = map[string]string{"revision": r.revision}
	}
	r.events.AnnotatedEventf(r.obj, md, eventType, reason, "%s", r.mask(msg))
}

// outcome records the event of a finished reconcile: a failure (a wait as
// trace), or a recovery nobody reported.
func (r *Reporter) outcome(err error, wasFailing bool) {
	ready := conditions.Get(r.obj, conditions.Ready)
	if ready == nil {
		return
	}
	var waiting *reconcile.WaitError
	switch {
	case errors.As(err, &waiting):
		r.record(recorder.EventTypeTrace, ready.Reason, ready.Message)
	case err != nil:
		r.record(corev1.EventTypeWarning, ready.Reason, ready.Message)
	case wasFailing && !r.reported && ready.Status == metav1.ConditionTrue:
		r.record(corev1.EventTypeNormal, ready.Reason, ready.Message)
	}
}

// Mask adds values that must never appear in a condition message or a log
// line of this reconcile (the values of Secrets it read, for example): the
// Lifecycle replaces them with "***" in every message it writes, whatever
// error quoted them.
func (r *Reporter) Mask(values ...string) {
	r.secrets = append(r.secrets, values...)
}

// mask returns s with every masked value replaced.
func (r *Reporter) mask(s string) string { return MaskValues(s, r.secrets) }

// maskConditions masks the messages of the conditions the Lifecycle owns.
func (r *Reporter) maskConditions() {
	if len(r.secrets) == 0 {
		return
	}
	for _, t := range r.owned {
		if c := conditions.Get(r.obj, t); c != nil {
			if m := r.mask(c.Message); m != c.Message {
				c.Message = m
				conditions.Set(r.obj, *c)
			}
		}
	}
}

// Steady reports whether obj is Ready at its current generation with no
// reconcile request pending: a reconcile of it re-checks what is already
// done, and should not report progress (Reporter.Progress) unless it finds
// new work.
func Steady(obj reconcile.Object) bool {
	c := conditions.Get(obj, conditions.Ready)
	if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != obj.GetGeneration() {
		return false
	}
	if rs, ok := obj.(reconcile.RequestStatus); ok {
		if req, ok := reconcile.GetRequest(obj); ok && req.Pending(rs.GetLastHandledReconcileAt()) {
			return false
		}
	}
	return true
}
