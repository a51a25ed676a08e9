package kustomize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/kit/ssa"
)

// An apply that spec.timeout cut short is reported as the timeout, how far
// it got and the first failure, wrapping context.DeadlineExceeded; any
// other failure is reported as it is.
func TestTimedOut(t *testing.T) {
	set := &ssa.SetError{Op: "apply"}
	for i := range 250 {
		set.Objects = append(set.Objects, &ssa.ObjectError{
			ID:       ssa.ObjectID{Kind: "ConfigMap", Namespace: "apps", Name: fmt.Sprintf("cm-%03d", 50+i)},
			Err:      context.DeadlineExceeded,
			MayExist: i < 3,
		})
	}
	cs := &ssa.ChangeSet{Changes: make([]ssa.Change, 50)}

	if got := timedOut(context.Background(), 5*time.Second, 300, cs, set); got != error(set) {
		t.Errorf("before the deadline: %v, want the SetError as it is", got)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if got := timedOut(cancelled, 5*time.Second, 300, cs, set); got != error(set) {
		t.Errorf("cancelled: %v, want the SetError as it is", got)
	}

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	got := timedOut(expired, 5*time.Second, 300, cs, set)
	want := "spec.timeout of 5s exceeded with 50 of 300 objects applied (3 more perhaps: their answer did not come in time): " +
		"context deadline exceeded (ConfigMap/apps/cm-050: context deadline exceeded; and 249 more)"
	if got.Error() != want {
		t.Errorf("timed out:\n got %s\nwant %s", got, want)
	}
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("%v does not wrap context.DeadlineExceeded", got)
	}
	other := errors.New("connection refused")
	if got := timedOut(expired, time.Minute, 1, nil, other); !strings.HasPrefix(got.Error(), "spec.timeout of 1m0s exceeded with 0 of 1 objects applied: context deadline exceeded (connection refused)") {
		t.Errorf("timed out without a SetError: %v", got)
	}
}
