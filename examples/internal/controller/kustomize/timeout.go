package kustomize

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitopskit/kit/ssa"
)

// timedOut is the error an apply that failed is reported with when ctx,
// bounded by spec.timeout, is past its deadline. Every object the deadline
// stopped fails with the same cause, and listing them all would bury it: the
// error says that the timeout ran out, how far the apply got, and the first
// object's failure, and wraps context.DeadlineExceeded. Any other error is
// returned as it is.
func timedOut(ctx context.Context, timeout time.Duration, total int, cs *ssa.ChangeSet, err error) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	applied := 0
	if cs != nil {
		applied = len(cs.Changes)
	}
	first, more, perhaps := err.Error(), "", ""
	if se, ok := errors.AsType[*ssa.SetError](err); ok && len(se.Objects) > 0 {
		first = se.Objects[0].Error()
		if n := len(se.Objects) - 1; n > 0 {
			more = fmt.Sprintf("; and %d more", n)
		}
		n := 0
		for _, o := range se.Objects {
			if o.MayExist {
				n++
			}
		}
		if n > 0 {
			perhaps = fmt.Sprintf(" (%d more perhaps: their answer did not come in time)", n)
		}
	}
	return fmt.Errorf("spec.timeout of %s exceeded with %d of %d objects applied%s: %w (%s%s)",
		timeout, applied, total, perhaps, context.DeadlineExceeded, first, more)
}
