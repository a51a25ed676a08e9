package ssa

import (
	"errors"
	"fmt"
	"strings"
)

// Action is what the Manager did, or would do, to an object.
type Action string

// Actions reported in a ChangeSet.
const (
	ActionCreated    Action = "created"
	ActionConfigured Action = "configured"
	ActionUnchanged  Action = "unchanged"
	ActionSkipped    Action = "skipped"
	ActionDeleted    Action = "deleted"
	// ActionRecreated: the object was deleted and created again because an
	// immutable field changed.
	ActionRecreated Action = "recreated"
)

// Change is the outcome for one object.
type Change struct {
	ID ObjectID
	// Version is the API version the object was applied or deleted with.
	Version string
	Action  Action
	// Reason says why an object was skipped; empty otherwise.
	Reason string
}

func (c Change) String() string {
	if c.Reason != "" {
		return fmt.Sprintf("%s %s (%s)", c.ID, c.Action, c.Reason)
	}
	return fmt.Sprintf("%s %s", c.ID, c.Action)
}

// ChangeSet lists the outcome per object, in the order of the input set.
// Objects that failed are not in it; they are in the accompanying error.
// Its methods accept a nil *ChangeSet as an empty one.
type ChangeSet struct {
	Changes []Change
}

// Count returns how many changes have the action.
func (cs *ChangeSet) Count(a Action) int {
	if cs == nil {
		return 0
	}
	n := 0
	for _, c := range cs.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Changed reports whether any object was created, configured, recreated or
// deleted.
func (cs *ChangeSet) Changed() bool {
	if cs == nil {
		return false
	}
	for _, c := range cs.Changes {
		switch c.Action {
		case ActionCreated, ActionConfigured, ActionRecreated, ActionDeleted:
			return true
		}
	}
	return false
}

// String lists the changes one per line.
func (cs *ChangeSet) String() string {
	if cs == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range cs.Changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ObjectError is the failure of one object.
type ObjectError struct {
	ID  ObjectID
	Err error
	// MayExist reports that the object may be on the cluster as applied
	// despite the failure: its write was sent and not refused (a timeout,
	// a dropped connection, a server error: the API server may have stored
	// it and its answer been lost), or it was applied and what followed
	// failed (a CustomResourceDefinition not established in time). An
	// inventory kept after a failed apply must list it, so that a later
	// prune finds it: see InventoryFromResult.
	MayExist bool
	// version is the API version the object was applied with.
	version string
}

func (e *ObjectError) Error() string { return e.ID.String() + ": " + e.Err.Error() }
func (e *ObjectError) Unwrap() error { return e.Err }

// SetError reports every object of a set that failed. It unwraps to the
// per-object errors, so errors.Is(err, ErrTimeout) or apierrors.IsForbidden
// through errors.As work on it.
type SetError struct {
	Op      string // "apply", "diff", "prune"
	Objects []*ObjectError
}

func (e *SetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed for %d object", e.Op, len(e.Objects))
	if len(e.Objects) != 1 {
		b.WriteByte('s')
	}
	for _, o := range e.Objects {
		b.WriteString("\n  ")
		b.WriteString(o.Error())
	}
	return b.String()
}

// Unwrap returns the per-object errors.
func (e *SetError) Unwrap() []error {
	errs := make([]error, len(e.Objects))
	for i, o := range e.Objects {
		errs[i] = o
	}
	return errs
}

// Failed returns the IDs of the failed objects.
func (e *SetError) Failed() []ObjectID {
	ids := make([]ObjectID, len(e.Objects))
	for i, o := range e.Objects {
		ids[i] = o.ID
	}
	return ids
}

// joinErrors joins validation errors into one error with one per line.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
