package reconcile

import (
	"fmt"
	"runtime/debug"
	"unicode/utf8"

	"github.com/gitopskit/kit/runtime/conditions"
)

// maxPanicMessage bounds the panic value's text in a PanicError's message,
// which ends up in a condition and an event.
const maxPanicMessage = 512

// PanicError is a reconcile that panicked: a fault of the controller, never
// a success. Its message carries the panic value (cut to a bounded length);
// Stack is for the log only, never for a condition.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack where the panic was recovered.
	Stack []byte
}

func (e *PanicError) Error() string {
	msg := fmt.Sprint(e.Value)
	if len(msg) > maxPanicMessage {
		cut := maxPanicMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return "internal error: the reconciler panicked: " + msg
}

// Unwrap returns the panic value when it is an error (a runtime.Error for a
// nil dereference, for example), so errors.As can see it.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// FromPanic turns a value recovered from a panicking reconcile into the
// error Result reports as a transient failure with InternalErrorReason:
// Ready=False, Reconciling=True, retried. Call it from the deferred
// function that writes status, before Result:
//
//	defer func() {
//		if v := recover(); v != nil {
//			err = reconcile.FromPanic(v)
//		}
//		res, err = reconcile.Result(obj, err, opts)
//		// ... patch status
//	}()
//
// A deferred status write that does not recover sees a nil error while the
// panic unwinds and would record success; this is what prevents it. The
// stack is captured here, so call it in the deferred function itself.
func FromPanic(v any) error {
	return Fail(conditions.InternalErrorReason, &PanicError{Value: v, Stack: debug.Stack()})
}
