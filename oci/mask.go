package oci

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gitopskit/kit/artifact/untar"
)

// remoteError is an error from the registry client, with its message
// cleaned of credentials and signed URL parameters. It does not wrap the
// original error (whose text may hold them); it matches the sentinels and
// context errors it stands for.
type remoteError struct {
	msg   string
	kinds []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.kinds }

var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// maskURLs removes user info and query strings (presigned blob URLs carry
// signatures there) from every URL in s.
func maskURLs(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			return "<url>"
		}
		u.User = nil
		if u.RawQuery != "" {
			u.RawQuery = "redacted"
		}
		u.Fragment, u.ForceQuery = "", false
		return u.String()
	})
}

// wrap turns an error of the registry client into a masked error that
// matches ErrNotFound, ErrUnauthorized, ErrInsecure and context errors.
// op says what was being done.
func (c *Client) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var kinds []error
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			kinds = append(kinds, ErrNotFound)
		case http.StatusUnauthorized, http.StatusForbidden:
			kinds = append(kinds, ErrUnauthorized)
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				kinds = append(kinds, ErrNotFound)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				kinds = append(kinds, ErrUnauthorized)
			}
		}
	}
	for _, k := range []error{ErrInsecure, ErrNotFound, ErrUnauthorized, ErrDigestMismatch, ErrTooLarge,
		ErrInvalidReference, ErrNotArtifact, ErrNoLayer, context.Canceled, context.DeadlineExceeded,
		untar.ErrUnsafePath, untar.ErrUnsafeLink, untar.ErrUnsupportedEntry, untar.ErrLimitExceeded,
		untar.ErrDestinationNotEmpty} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	return &remoteError{msg: c.mask(op + ": " + err.Error()), kinds: kinds}
}

// mask cleans a message of URLs' secrets and of the configured secrets.
func (c *Client) mask(s string) string {
	s = maskURLs(s)
	for _, sec := range c.secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}
