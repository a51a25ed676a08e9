package conditions

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types every gitopskit object uses, with the meaning kstatus gives
// them. Reconciling and Stalled have negative polarity: they are present only
// while True.
const (
	// Ready is True when the object's last reconcile of its current
	// generation succeeded.
	Ready = "Ready"
	// Reconciling is True while the controller works towards the desired
	// state, including retries after a transient failure.
	Reconciling = "Reconciling"
	// Stalled is True when the controller cannot make progress without a
	// change from outside (a spec edit, a new Secret): it will not retry.
	Stalled = "Stalled"
)

// Reasons shared by gitopskit controllers. Controllers add their own; a reason
// is CamelCase, as the API server requires.
const (
	// SucceededReason is the Ready=True reason after a successful reconcile.
	SucceededReason = "Succeeded"
	// ProgressingReason is the Reconciling reason while work is under way.
	ProgressingReason = "Progressing"
	// ProgressingWithRetryReason is the Reconciling reason after a transient
	// failure that will be retried.
	ProgressingWithRetryReason = "ProgressingWithRetry"
	// FailedReason is the default Ready=False reason of a failed reconcile.
	FailedReason = "ReconciliationFailed"
	// DependencyNotReadyReason is used while a dependency is not Ready.
	DependencyNotReadyReason = "DependencyNotReady"
	// InternalErrorReason is the Ready=False reason of a reconcile that
	// ended by a fault of the controller itself (a recovered panic), not
	// of the object: see reconcile.FromPanic.
	InternalErrorReason = "InternalError"
)

// Getter is an object whose status holds metav1.Conditions. Types generated
// for CRDs implement it with two one-line methods; for unstructured objects
// use Unstructured.
type Getter interface {
	GetGeneration() int64
	GetConditions() []metav1.Condition
}

// Setter is a Getter whose conditions can be replaced.
type Setter interface {
	Getter
	SetConditions([]metav1.Condition)
}

// Get returns a copy of the condition of type t, or nil.
func Get(from Getter, t string) *metav1.Condition {
	for _, c := range from.GetConditions() {
		if c.Type == t {
			return &c
		}
	}
	return nil
}

// Has reports whether the condition of type t is present.
func Has(from Getter, t string) bool { return Get(from, t) != nil }

// IsTrue reports whether the condition of type t is present and True.
func IsTrue(from Getter, t string) bool { return status(from, t) == metav1.ConditionTrue }

// IsFalse reports whether the condition of type t is present and False.
func IsFalse(from Getter, t string) bool { return status(from, t) == metav1.ConditionFalse }

// IsUnknown reports whether the condition of type t is absent or Unknown.
func IsUnknown(from Getter, t string) bool {
	s := status(from, t)
	return s == "" || s == metav1.ConditionUnknown
}

// IsReady reports whether Ready is True and was computed for the object's
// current generation, which is what a dependent object should wait for.
func IsReady(from Getter) bool {
	c := Get(from, Ready)
	return c != nil && c.Status == metav1.ConditionTrue &&
		(c.ObservedGeneration == 0 || c.ObservedGeneration == from.GetGeneration())
}

func status(from Getter, t string) metav1.ConditionStatus {
	if c := Get(from, t); c != nil {
		return c.Status
	}
	return ""
}

// Set adds or replaces the condition of its type. ObservedGeneration is set to
// the object's generation. LastTransitionTime is kept when the status does not
// change and set to now when it does (or when the caller left it zero on a new
// condition). The list is kept in a stable order: Ready first, then the
// negative-polarity types, then the others by name, so that setting the same
// conditions in another order produces no status change.
func Set(to Setter, c metav1.Condition) {
	setAt(to, c, metav1.NewTime(time.Now().Truncate(time.Second)))
}

func setAt(to Setter, c metav1.Condition, now metav1.Time) {
	c.ObservedGeneration = to.GetGeneration()
	list := slices.Clone(to.GetConditions())
	i := slices.IndexFunc(list, func(x metav1.Condition) bool { return x.Type == c.Type })
	if i >= 0 {
		if list[i].Status == c.Status && !list[i].LastTransitionTime.IsZero() {
			c.LastTransitionTime = list[i].LastTransitionTime
		} else {
			c.LastTransitionTime = now
		}
		list[i] = c
	} else {
		if c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = now
		}
		list = append(list, c)
	}
	slices.SortStableFunc(list, func(a, b metav1.Condition) int { return compareTypes(a.Type, b.Type) })
	to.SetConditions(list)
}

func rank(t string) int {
	switch t {
	case Ready:
		return 0
	case Reconciling:
		return 1
	case Stalled:
		return 2
	}
	return 3
}

func compareTypes(a, b string) int {
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

// MarkTrue sets the condition of type t to True.
func MarkTrue(to Setter, t, reason, messageFormat string, args ...any) {
	Set(to, newCondition(t, metav1.ConditionTrue, reason, messageFormat, args...))
}

// MarkFalse sets the condition of type t to False.
func MarkFalse(to Setter, t, reason, messageFormat string, args ...any) {
	Set(to, newCondition(t, metav1.ConditionFalse, reason, messageFormat, args...))
}

// MarkUnknown sets the condition of type t to Unknown.
func MarkUnknown(to Setter, t, reason, messageFormat string, args ...any) {
	Set(to, newCondition(t, metav1.ConditionUnknown, reason, messageFormat, args...))
}

// MarkReconciling sets Reconciling=True and removes Stalled: an object that is
// making progress is not stalled.
func MarkReconciling(to Setter, reason, messageFormat string, args ...any) {
	Delete(to, Stalled)
	MarkTrue(to, Reconciling, reason, messageFormat, args...)
}

// MarkStalled sets Stalled=True and removes Reconciling: a stalled object is
// not making progress.
func MarkStalled(to Setter, reason, messageFormat string, args ...any) {
	Delete(to, Reconciling)
	MarkTrue(to, Stalled, reason, messageFormat, args...)
}

// Delete removes the condition of type t, if present.
func Delete(to Setter, t string) {
	list := to.GetConditions()
	if !slices.ContainsFunc(list, func(c metav1.Condition) bool { return c.Type == t }) {
		return
	}
	to.SetConditions(slices.DeleteFunc(slices.Clone(list), func(c metav1.Condition) bool { return c.Type == t }))
}

// maxMessageLength is the API server's limit on a condition message.
const maxMessageLength = 32768

func newCondition(t string, s metav1.ConditionStatus, reason, format string, args ...any) metav1.Condition {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: truncate(msg)}
}

// truncate keeps a message within the API server's limit, cutting on a rune
// boundary, so a long error cannot make the status update itself fail.
func truncate(msg string) string {
	if len(msg) <= maxMessageLength {
		return msg
	}
	const suffix = "… (truncated)"
	cut := maxMessageLength - len(suffix)
	for cut > 0 && !utf8RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + suffix
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
