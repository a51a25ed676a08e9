package chart

import (
	"errors"
	"fmt"
)

// Errors callers can branch on with errors.Is. Every error names the chart
// and the file or dependency concerned, never a value it holds.
var (
	// ErrLimitExceeded is returned when a chart's size, one file's size,
	// its number of files or its nesting is over its limit.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrUnsafePath is returned for a path that is absolute, contains
	// "..", a backslash, or a symbolic link (in an archive), or that
	// leaves the root through a symbolic link (in a directory).
	ErrUnsafePath = errors.New("unsafe path")
	// ErrInvalidChart is returned for a chart Helm's loader refuses (no
	// Chart.yaml, invalid metadata or values, a file in a place it does
	// not belong) or an archive that is not a gzip-compressed tar.
	ErrInvalidChart = errors.New("invalid chart")
	// ErrUnsupportedAPIVersion is returned for a chart whose apiVersion is
	// neither v1 nor v2.
	ErrUnsupportedAPIVersion = errors.New("unsupported chart apiVersion")
	// ErrDependency is returned for a dependency that cannot be built: a
	// missing or mismatched local chart, an unknown repository, a version
	// no repository has.
	ErrDependency = errors.New("dependency cannot be built")
	// ErrDependencyCycle is returned when file:// dependencies lead back
	// to a chart being built.
	ErrDependencyCycle = errors.New("dependency cycle")
	// ErrValuesFileNotFound is returned for a values file that does not
	// exist, unless told to ignore it.
	ErrValuesFileNotFound = errors.New("values file not found")
)

// Error says which chart and which file or dependency a failure concerns.
// It matches its Err (one of the sentinels, possibly wrapping a cause)
// with errors.Is.
type Error struct {
	// Chart is the chart's name or path, when known.
	Chart string
	// Path is the file, directory or dependency concerned, when any.
	Path   string
	Reason string
	Err    error
}

func (e *Error) Error() string {
	msg := "chart"
	if e.Chart != "" {
		msg += fmt.Sprintf(" %s", e.Chart)
	}
	if e.Path != "" {
		msg += fmt.Sprintf(": %s", e.Path)
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func newErr(chart, p string, kind error, format string, args ...any) error {
	return &Error{Chart: chart, Path: p, Reason: fmt.Sprintf(format, args...), Err: kind}
}

// wrapErr is newErr with a cause kept for errors.Is/As.
func wrapErr(chart, p string, kind, cause error, reason string) error {
	return &Error{Chart: chart, Path: p, Reason: reason + ": " + cause.Error(), Err: fmt.Errorf("%w: %w", kind, cause)}
}
