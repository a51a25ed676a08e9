package repo

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors callers can branch on with errors.Is. Messages name what and
// where (a chart, a line, a host), never a credential nor a value read
// from the index.
var (
	// ErrInvalidIndex is returned for an index that does not parse, has no
	// apiVersion, or has a shape this parser does not read (see
	// ParseIndex). *IndexError says where.
	ErrInvalidIndex = errors.New("invalid index")
	// ErrLimitExceeded is returned when an index, an entry, a line, the
	// number of versions, a download or a provenance file is larger than
	// its limit.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrChartNotFound is returned when the index has no chart of that
	// name.
	ErrChartNotFound = errors.New("chart not found")
	// ErrVersionNotFound is returned when no version of the chart
	// satisfies the constraint.
	ErrVersionNotFound = errors.New("no chart version satisfies the constraint")
	// ErrInvalidConstraint is returned for a version constraint that is not
	// a Masterminds/semver constraint.
	ErrInvalidConstraint = errors.New("invalid version constraint")
	// ErrInvalidURL is returned for a repository or chart URL that does not
	// parse, has an unsupported scheme, or carries credentials.
	ErrInvalidURL = errors.New("invalid url")
	// ErrHTTP is returned (wrapped in a *StatusError) for a response other
	// than 200 OK.
	ErrHTTP = errors.New("unexpected http status")
	// ErrUnauthorized is returned (wrapped in a *StatusError) for 401 and
	// 403 responses.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound is returned (wrapped in a *StatusError) for 404 and 410
	// responses.
	ErrNotFound = errors.New("not found")
	// ErrDigestMismatch is returned when a downloaded chart does not match
	// the digest its index entry gives.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrProvenance is returned when a chart's provenance file is missing,
	// malformed, not signed by a key of the keyring, or does not match the
	// chart. *ProvenanceError says why.
	ErrProvenance = errors.New("provenance verification failed")
	// ErrNoURL is returned for an index entry without URLs.
	ErrNoURL = errors.New("chart version has no url")
)

// IndexError locates a problem in an index: the line (1-based, 0 when not
// known) and the chart it concerns, if any. It matches ErrInvalidIndex, or
// ErrLimitExceeded for a limit, with errors.Is.
type IndexError struct {
	Line  int
	Chart string
	// Reason is a description without any value from the index.
	Reason string
	// Err is ErrInvalidIndex or ErrLimitExceeded, possibly wrapping the
	// decoder's error.
	Err error
}

func (e *IndexError) Error() string {
	msg := "index"
	if e.Line > 0 {
		msg += fmt.Sprintf(" line %d", e.Line)
	}
	if e.Chart != "" {
		msg += fmt.Sprintf(" chart %q", e.Chart)
	}
	return msg + ": " + e.Reason
}

func (e *IndexError) Unwrap() error { return e.Err }

// StatusError is an HTTP response other than 200 OK. It matches ErrHTTP,
// and ErrUnauthorized or ErrNotFound where they apply.
type StatusError struct {
	// URL is the URL requested, without user info nor query.
	URL string
	// StatusCode is the response's status code.
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("get %s: %d %s", e.URL, e.StatusCode, statusText(e.StatusCode))
}

// Unwrap lets errors.Is match ErrHTTP and the status' own sentinel.
func (e *StatusError) Unwrap() []error {
	switch e.StatusCode {
	case 401, 403:
		return []error{ErrHTTP, ErrUnauthorized}
	case 404, 410:
		return []error{ErrHTTP, ErrNotFound}
	}
	return []error{ErrHTTP}
}

// ProvenanceError says why a provenance check failed. It matches
// ErrProvenance.
type ProvenanceError struct {
	// Chart is the package file name checked (e.g. app-1.0.0.tgz).
	Chart  string
	Reason string
	Err    error
}

func (e *ProvenanceError) Error() string {
	msg := fmt.Sprintf("%s: %s", ErrProvenance, e.Chart)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ProvenanceError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrProvenance, e.Err}
	}
	return []error{ErrProvenance}
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "status"
}
