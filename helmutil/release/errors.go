package release

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gitopskit/kit/ssa"
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrInvalidSpec reports a Spec or Request that cannot be acted on; the
	// message names the field.
	ErrInvalidSpec = errors.New("invalid release spec")
	// ErrInvalidName reports a release name Helm refuses: empty, longer
	// than 53 characters, or not a DNS-1123 label-like name.
	ErrInvalidName = errors.New("invalid release name")
	// ErrFieldManager reports a Runner asking for a field manager other
	// than the one Helm already uses in this process.
	ErrFieldManager = errors.New("conflicting field manager")
	// ErrRender reports a chart that failed to render: its values schema,
	// a template, its dependencies or its kubeVersion.
	ErrRender = errors.New("chart failed to render")
	// ErrPostRender reports post-render patches that could not be applied.
	ErrPostRender = errors.New("post-render failed")
	// ErrHookFailed reports a hook (a Pod or Job) that failed or did not
	// complete in time; errors.As with *HookError names it.
	ErrHookFailed = errors.New("hook failed")
	// ErrTestFailed reports a failed test hook.
	ErrTestFailed = errors.New("test failed")
)

// ActionError is the error of one action on one release. Its message is
// Helm's or the API server's, with every sensitive value masked; it
// unwraps to the original error and to the sentinel that classifies it
// (ErrRender, ErrHookFailed, ErrTestFailed), so errors.Is and errors.As see
// ssa.ErrTimeout, *ssa.WaitError, *HookError, API status errors and
// context errors inside.
type ActionError struct {
	Action  Action
	Release Ref
	// Revision is the revision the action made or acted on, 0 when none.
	Revision int
	// Kind is the sentinel that classifies the failure, nil when none
	// applies.
	Kind error
	// Err is the failure, its message masked.
	Err error
}

func (e *ActionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of release %s", e.Action, e.Release)
	if e.Revision > 0 {
		fmt.Fprintf(&b, " (revision %d)", e.Revision)
	}
	b.WriteString(": ")
	if e.Kind != nil && !strings.Contains(e.Err.Error(), e.Kind.Error()) {
		b.WriteString(e.Kind.Error())
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ActionError) Unwrap() []error {
	if e.Kind != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Err}
}

// HookError reports hooks that failed or timed out.
type HookError struct {
	// Hooks are the hook objects waited for.
	Hooks []ssa.ObjectID
	// Err is the wait's error (a *ssa.WaitError naming each hook's status).
	Err error
}

func (e *HookError) Error() string {
	ids := make([]string, len(e.Hooks))
	for i, id := range e.Hooks {
		ids[i] = id.String()
	}
	return fmt.Sprintf("hook %s: %v", strings.Join(ids, ", "), e.Err)
}

func (e *HookError) Unwrap() []error { return []error{ErrHookFailed, e.Err} }
