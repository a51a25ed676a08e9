package oci

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

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

// mask cleans a message of URLs' secrets, of credentials in Authorization
// headers it quotes, and of every secret the client knows.
func (c *Client) mask(s string) string {
	return c.secrets.mask(maskURLs(s))
}

// authHeaderPattern finds the credentials of a quoted Authorization header
// ("Basic dXNlcjpwdw==", "Bearer eyJ…"), whatever their length.
var authHeaderPattern = regexp.MustCompile(`(?i)\b(basic|bearer)(\s+)[A-Za-z0-9+/=._~-]+`)

// minSecret is the length from which a secret is masked wherever it
// appears; a shorter one is masked only in the credential forms below
// (an Authorization header, user:password), since masking "ab" everywhere
// would garble messages and tell nothing less.
const minSecret = 3

// maxSecrets bounds the secrets a client remembers from the requests it
// sent (registry tokens are renewed; the configured credentials are kept).
const maxSecrets = 64

// secretSet is what a Client masks in its errors: the credentials it was
// configured with and every one its requests sent (the Authorization
// headers, which carry the tokens a registry issued and the credentials a
// keychain resolved), each in the forms a server or a library may echo
// it: raw, URL-escaped, quoted, and for Basic the base64 user:password.
// Safe for concurrent use.
type secretSet struct {
	mu     sync.Mutex
	fixed  int      // the first fixed values are never evicted
	values []string // longest first when masking
	seen   map[string]struct{}
}

func newSecretSet() *secretSet { return &secretSet{seen: map[string]struct{}{}} }

// add records values and their escaped forms.
func (s *secretSet) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v == "" {
			continue
		}
		q := strconv.Quote(v)
		for _, f := range []string{v, url.QueryEscape(v), url.PathEscape(v), q[1 : len(q)-1]} {
			if _, ok := s.seen[f]; ok {
				continue
			}
			s.seen[f] = struct{}{}
			s.values = append(s.values, f)
		}
	}
	s.evict()
}

// addBasic records a user name and password as HTTP Basic sends them.
func (s *secretSet) addBasic(user, password string) {
	if password == "" {
		s.add(user) // a token used as the user name
		return
	}
	pair := user + ":" + password
	s.add(password, pair, base64.StdEncoding.EncodeToString([]byte(pair)))
}

// addHeader records the credentials of an Authorization header value.
func (s *secretSet) addHeader(h string) {
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || cred == "" {
		return
	}
	s.add(cred)
	if strings.EqualFold(scheme, "basic") {
		if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
			if user, pw, ok := strings.Cut(string(raw), ":"); ok {
				s.addBasic(user, pw)
			}
		}
	}
}

// freeze marks what is recorded so far as configured: never evicted.
func (s *secretSet) freeze() {
	s.mu.Lock()
	s.fixed = len(s.values)
	s.mu.Unlock()
}

// evict drops the oldest learnt values past maxSecrets.
func (s *secretSet) evict() {
	for len(s.values)-s.fixed > maxSecrets {
		delete(s.seen, s.values[s.fixed])
		s.values = slices.Delete(s.values, s.fixed, s.fixed+1)
	}
}

// mask replaces every known secret in msg with "***".
func (s *secretSet) mask(msg string) string {
	msg = authHeaderPattern.ReplaceAllString(msg, "$1$2***")
	s.mu.Lock()
	vals := slices.Clone(s.values)
	s.mu.Unlock()
	slices.SortStableFunc(vals, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vals {
		if len(v) >= minSecret {
			msg = strings.ReplaceAll(msg, v, "***")
		}
	}
	return msg
}
