package git

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by the git packages wrap these, so callers
// branch with errors.Is.
var (
	// ErrEmptyRepository reports a remote repository without any reference.
	ErrEmptyRepository = errors.New("remote repository is empty")
	// ErrReferenceNotFound reports that the requested branch, tag, reference,
	// semver range or commit does not exist on the remote.
	ErrReferenceNotFound = errors.New("reference not found")
	// ErrAuthentication reports credentials refused by the remote, or missing.
	ErrAuthentication = errors.New("authentication failed")
	// ErrHostKey reports an SSH host key that is unknown or does not match
	// known_hosts.
	ErrHostKey = errors.New("ssh host key verification failed")
	// ErrNonFastForward reports a push rejected because it would lose commits
	// on the remote; pull first or push with Force.
	ErrNonFastForward = errors.New("non-fast-forward update rejected")
	// ErrSizeLimit reports a transfer, an object or a checkout larger than
	// the caller's limit (see gogit.CloneOptions: MaxFetchSize,
	// MaxObjectSize, MaxFiles, MaxCheckoutSize); nothing of it is kept.
	// Errors that wrap it are *LimitError, naming the limit.
	ErrSizeLimit = errors.New("size limit exceeded")
	// ErrUnsafePath reports repository content that would write outside
	// the checkout or plant a .git folder: an entry named ".", ".." or
	// ".git" or holding a separator, duplicate entries, a symbolic link
	// that resolves outside the checkout, or a write through such a link.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrInvalidOptions reports options that contradict each other or are
	// unsafe (for example credentials over plain http).
	ErrInvalidOptions = errors.New("invalid options")
)

// LimitError reports a limit crossed. It matches ErrSizeLimit with
// errors.Is.
type LimitError struct {
	// Limit names the limit, as the option that sets it:
	// "MaxFetchSize", "MaxObjectSize", "MaxFiles", "MaxCheckoutSize".
	Limit string
	// Max is the limit's value (bytes, or a count for MaxFiles).
	Max int64
	// What says what crossed it.
	What string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: %s (%s is %d)", ErrSizeLimit, e.What, e.Limit, e.Max)
}

// Is reports whether target is ErrSizeLimit.
func (e *LimitError) Is(target error) bool { return target == ErrSizeLimit }
