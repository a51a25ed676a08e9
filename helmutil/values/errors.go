package values

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrNotFound reports a referenced ConfigMap or Secret, or a key in it,
	// that does not exist, for a reference that is not Optional.
	ErrNotFound = errors.New("values reference not found")
	// ErrInvalid reports values that cannot be used: a document that is not
	// YAML or not a map, a kind other than ConfigMap or Secret, a TargetPath
	// that does not parse.
	ErrInvalid = errors.New("invalid values")
	// ErrTooLarge reports a referenced value, or the composed values, over
	// Options.MaxBytes.
	ErrTooLarge = errors.New("values too large")
)

// ReferenceError is the error for one reference. It names the reference
// and the key, never a value.
type ReferenceError struct {
	Kind      string // ConfigMap or Secret
	Namespace string
	Name      string
	Key       string
	// Reason says what is wrong, without quoting any value.
	Reason string
	// Err is ErrNotFound, ErrInvalid, ErrTooLarge, a *PathError, or the
	// API server's error for the read (a Forbidden, say).
	Err error
}

func (e *ReferenceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "values from %s %s/%s", e.Kind, e.Namespace, e.Name)
	if e.Key != "" {
		fmt.Fprintf(&b, " key %q", e.Key)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *ReferenceError) Unwrap() error { return e.Err }

// PathError reports a TargetPath that does not parse. The path comes from
// the caller's specification, not from a referenced object, so it is
// quoted; it matches ErrInvalid.
type PathError struct {
	Path   string
	Offset int // byte offset of the problem in Path
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("target path %s: %s at offset %d", quotePath(e.Path), e.Reason, e.Offset)
}

func (e *PathError) Unwrap() error { return ErrInvalid }

// quotePath quotes a path for a message, shortened when long.
func quotePath(p string) string {
	const max = 128
	if len(p) > max {
		return strconv.Quote(p[:max]) + "..."
	}
	return strconv.Quote(p)
}
