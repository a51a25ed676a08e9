package transport

import (
	"context"
	"errors"
	"strings"

	gittransport "github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/gitopskit/kit/git"
)

// Error is a scrubbed error: its message has no credential and no URL
// userinfo, and it unwraps only to our sentinels and context errors, never
// to the original error (whose message could carry a credential).
type Error struct {
	msg    string
	causes []error
}

func (e *Error) Error() string   { return e.msg }
func (e *Error) Unwrap() []error { return e.causes }

// Sanitize scrubs err (see Error), naming the operation op. When ctx has
// ended, the error unwraps to ctx.Err() too: go-git flattens the errors of
// a cancelled request into text.
func (s *Settings) Sanitize(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var causes []error
	for _, m := range []struct{ from, to error }{
		{gittransport.ErrAuthenticationRequired, git.ErrAuthentication},
		{gittransport.ErrAuthorizationFailed, git.ErrAuthentication},
		{gittransport.ErrEmptyRemoteRepository, git.ErrEmptyRepository},
		{git.ErrHostKey, git.ErrHostKey},
		{git.ErrAuthentication, git.ErrAuthentication},
		{git.ErrEmptyRepository, git.ErrEmptyRepository},
		{git.ErrReferenceNotFound, git.ErrReferenceNotFound},
		{git.ErrNonFastForward, git.ErrNonFastForward},
		{git.ErrInvalidOptions, git.ErrInvalidOptions},
		{git.ErrSizeLimit, git.ErrSizeLimit},
		{git.ErrUnsafePath, git.ErrUnsafePath},
	} {
		if errors.Is(err, m.from) && !containsErr(causes, m.to) {
			causes = append(causes, m.to)
		}
	}
	// A limit crossed keeps its typed error: it carries no credential.
	var limit *git.LimitError
	if errors.As(err, &limit) {
		causes = append(causes, limit)
	}
	// Remote messages (HTTP bodies, sideband) often end in a newline, which
	// would end up inside a condition message.
	msg := strings.TrimSpace(err.Error())
	if strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "no supported methods remain") {
		causes = append(causes, git.ErrAuthentication)
	}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) || errors.Is(ctx.Err(), ctxErr) {
			causes = append(causes, ctxErr)
		}
	}
	msg = s.Scrub(msg)
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + " …(truncated)"
	}
	return &Error{msg: op + " " + git.RedactURL(s.URL) + ": " + msg, causes: causes}
}

// maxMessage bounds what of a remote's message an error keeps, so it fits
// a status condition.
const maxMessage = 4 << 10

func containsErr(errs []error, e error) bool {
	for _, x := range errs {
		if x == e {
			return true
		}
	}
	return false
}

// Scrub removes the remote's credentials from a message, in every form a
// server may echo them (raw, URL-escaped, base64 as in a Basic
// Authorization header), and any credential in a credential context
// (authorization headers, URL userinfo, credential-named query parameters
// and fields, URL fragments).
func (s *Settings) Scrub(msg string) string { return s.secrets.Scrub(msg) }
