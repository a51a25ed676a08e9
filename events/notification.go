package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitopskit/kit/artifact"
)

// Provider delivers notifications to a service (a chat, an incident tool, a
// Git forge). The hub calls Post from its workers with a context bounded by
// the provider's timeout, and retries errors that are not permanent.
// Post must not modify n.
type Provider interface {
	Post(ctx context.Context, n *Notification) error
}

// CommitStatusProvider is a Provider that sets commit statuses. The hub
// hands it only events whose revision names a commit, with
// Notification.CommitStatus set, once per revision and state, instead of
// applying the notification rules.
type CommitStatusProvider interface {
	Provider
	// SetsCommitStatus marks the provider; it does nothing.
	SetsCommitStatus()
}

// Kind says where a notification stands in the hub's rules.
type Kind string

// Notification kinds.
const (
	// KindInfo is an info event that says something new (another
	// message, revision or token than the last one sent).
	KindInfo Kind = "info"
	// KindFailure is a new failure: the object was not failing, or fails
	// differently now.
	KindFailure Kind = "failure"
	// KindReminder summarises a failure that goes on: "still failing, 12
	// times in 1h". Sent at the alert's reminder interval, never more often.
	KindReminder Kind = "reminder"
	// KindResolved says a failing object recovered. Sent once.
	KindResolved Kind = "resolved"
	// KindCommitStatus is a commit status to set.
	KindCommitStatus Kind = "commit-status"
)

// Notification is what the hub hands a provider: the event, with its
// metadata prefixes stripped and the alert's metadata merged in, and its
// place in the no-spam rules.
type Notification struct {
	// Event is the event to send. For a reminder its message starts with
	// "still failing, N times in D: "; for a resolution with "resolved
	// after N failures in D: ".
	Event Event
	// Kind is what the notification says.
	Kind Kind
	// Alert identifies the alert that matched (Alert.ID in the hub).
	Alert string
	// Count is, for failures, reminders and resolutions, how many failure
	// events the object's failing state has seen so far.
	Count int
	// Since is when the object's failing state began.
	Since time.Time
	// Resolves is, for a resolution, the last failure event it resolves
	// (metadata stripped), so a provider can close what it opened.
	Resolves *Event
	// CommitStatus is set for commit-status providers.
	CommitStatus *CommitStatus
}

// CommitState is the state of a commit status, mapped by each provider to
// its service's own values.
type CommitState string

// Commit states.
const (
	CommitPending CommitState = "pending"
	CommitSuccess CommitState = "success"
	CommitFailure CommitState = "failure"
)

// CommitStatus is a commit status to set.
type CommitStatus struct {
	// Commit is the commit's hash, hex.
	Commit string
	// State is pending for a Progressing event, failure for an error,
	// success otherwise.
	State CommitState
	// Context names the status among the commit's others:
	// "<kind>/<name>/<provider id>" in lower case, as Flux names them.
	Context string
	// Description is a short text: the event's reason, split into words.
	Description string
}

// CommitFromRevision returns the commit hash a revision names:
// "main@sha1:<hex>", "sha1:<hex>", a legacy "main/<hex>" or a bare hash.
// A SHA-256 Git commit ("sha256:<hex>") is returned too.
func CommitFromRevision(rev string) (string, error) {
	r, err := artifact.ParseRevision(rev)
	if err != nil {
		return "", err
	}
	switch r.Digest.Algorithm() {
	case artifact.SHA1, artifact.SHA256:
		return r.Digest.Hex(), nil
	}
	return "", fmt.Errorf("%w: %s is not a commit hash", artifact.ErrInvalidRevision, r.Digest.Algorithm())
}

// ErrPermanent is matched (errors.Is) by errors that a retry cannot fix:
// a 4xx answer other than 408 and 429, a payload the service refuses, a
// missing revision.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as permanent: the hub does not retry it. The message
// is err's.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }
