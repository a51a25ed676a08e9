package git

import "errors"

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
	// ErrSizeLimit reports a transfer larger than the caller's limit (see
	// gogit.CloneOptions.MaxFetchSize); nothing of it is kept.
	ErrSizeLimit = errors.New("size limit exceeded")
	// ErrInvalidOptions reports options that contradict each other or are
	// unsafe (for example credentials over plain http).
	ErrInvalidOptions = errors.New("invalid options")
)
