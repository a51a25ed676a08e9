package reconcile

import (
	"errors"
	"math/rand/v2"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/runtime/conditions"
)

// Object is what Result works on: a Kubernetes object with conditions.
type Object interface {
	client.Object
	conditions.Setter
}

// StalledError is a failure the controller cannot recover from by retrying: a
// malformed spec, a reference to something that must not be used. The object
// is marked Stalled and is not requeued until it changes.
type StalledError struct {
	Reason string
	Err    error
}

func (e *StalledError) Error() string { return e.Err.Error() }
func (e *StalledError) Unwrap() error { return e.Err }

// Stall marks err as terminal, with a CamelCase reason for the conditions.
func Stall(reason string, err error) error { return &StalledError{Reason: reason, Err: err} }

// WaitError says the object cannot progress yet for a reason expected to pass
// (a dependency not Ready): not a failure, so no error is returned to
// controller-runtime and the object is requeued after RequeueAfter.
type WaitError struct {
	Reason       string
	RequeueAfter time.Duration
	Err          error
}

func (e *WaitError) Error() string { return e.Err.Error() }
func (e *WaitError) Unwrap() error { return e.Err }

// Wait marks err as a wait of the given duration, with a CamelCase reason.
func Wait(reason string, after time.Duration, err error) error {
	return &WaitError{Reason: reason, RequeueAfter: after, Err: err}
}

// ReasonError gives a transient failure the CamelCase reason its Ready=False
// condition should carry. Without one, FailedReason is used.
type ReasonError struct {
	Reason string
	Err    error
}

func (e *ReasonError) Error() string { return e.Err.Error() }
func (e *ReasonError) Unwrap() error { return e.Err }

// Fail gives err a reason for the Ready=False condition.
func Fail(reason string, err error) error { return &ReasonError{Reason: reason, Err: err} }

// ResultOptions are the knobs of Result. The zero value requeues nothing on
// success and leaves retries to controller-runtime's exponential backoff.
type ResultOptions struct {
	// Interval is how long after a success the object is reconciled again
	// (spec.interval). Zero: not requeued.
	Interval time.Duration
	// RetryInterval is how long after a transient failure the object is
	// reconciled again (spec.retryInterval). Zero: the error is returned to
	// controller-runtime, which retries with exponential backoff.
	RetryInterval time.Duration
	// Jitter is the fraction by which requeue intervals are spread, so that
	// objects created together do not reconcile together forever. Zero means
	// the default of 5%; a negative value disables jitter.
	Jitter float64
	// Summary computes Ready from the conditions the controller owns.
	Summary conditions.Summary
}

// DefaultJitter is the fraction of an interval by which requeues are spread
// when ResultOptions.Jitter is zero.
const DefaultJitter = 0.05

// Result turns the outcome of a reconcile into conditions and the
// controller-runtime result, so every controller reports the same way:
//
//   - nil: Reconciling and Stalled removed, Ready from the summary (True when
//     nothing owned is failing), requeue after Interval.
//   - *StalledError: Stalled=True, Ready=False, no requeue; a terminal error
//     is returned so controller-runtime logs it without retrying.
//   - *WaitError: Reconciling=True, Ready=False with the wait's reason,
//     requeue after RequeueAfter, no error.
//   - any other error: Reconciling=True (ProgressingWithRetry), Ready=False
//     with the error's reason (ReasonError) and message; requeue after
//     RetryInterval, or the error is returned for backoff.
//
// When obj implements RequestStatus, the pending reconcile request is
// recorded as handled in every case.
//
// Error messages end up in conditions and events: they must not carry
// secrets.
func Result(obj Object, err error, opts ResultOptions) (ctrl.Result, error) {
	if rs, ok := obj.(RequestStatus); ok {
		if r, ok := GetRequest(obj); ok {
			rs.SetLastHandledReconcileAt(r.RequestedAt)
		}
	}
	jitter := opts.Jitter
	if jitter == 0 {
		jitter = DefaultJitter
	}

	var stalled *StalledError
	var waiting *WaitError
	switch {
	case err == nil:
		conditions.Delete(obj, conditions.Reconciling)
		conditions.Delete(obj, conditions.Stalled)
		conditions.Summarize(obj, opts.Summary)
		if opts.Interval > 0 {
			return ctrl.Result{RequeueAfter: Jitter(opts.Interval, jitter)}, nil
		}
		return ctrl.Result{}, nil

	case errors.As(err, &stalled):
		conditions.MarkStalled(obj, stalled.Reason, "%s", err.Error())
		conditions.Summarize(obj, opts.Summary)
		return ctrl.Result{}, crreconcile.TerminalError(err)

	case errors.As(err, &waiting):
		conditions.MarkReconciling(obj, waiting.Reason, "%s", err.Error())
		conditions.Summarize(obj, opts.Summary)
		if !conditions.IsFalse(obj, conditions.Ready) {
			conditions.MarkFalse(obj, conditions.Ready, waiting.Reason, "%s", err.Error())
		}
		return ctrl.Result{RequeueAfter: Jitter(waiting.RequeueAfter, jitter)}, nil

	default:
		reason := conditions.FailedReason
		var re *ReasonError
		if errors.As(err, &re) && re.Reason != "" {
			reason = re.Reason
		}
		conditions.MarkReconciling(obj, conditions.ProgressingWithRetryReason, "%s", err.Error())
		conditions.Summarize(obj, opts.Summary)
		if !conditions.IsFalse(obj, conditions.Ready) {
			conditions.MarkFalse(obj, conditions.Ready, reason, "%s", err.Error())
		}
		if opts.RetryInterval > 0 {
			return ctrl.Result{RequeueAfter: Jitter(opts.RetryInterval, jitter)}, nil
		}
		return ctrl.Result{}, err
	}
}

// Jitter returns d spread uniformly by ±fraction of itself (fraction is
// clamped to [0, 1]; zero or negative returns d unchanged).
func Jitter(d time.Duration, fraction float64) time.Duration {
	if fraction <= 0 || d <= 0 {
		return d
	}
	fraction = min(fraction, 1)
	spread := float64(d) * fraction
	return d + time.Duration((rand.Float64()*2-1)*spread)
}
