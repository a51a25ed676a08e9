package bucket

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrBucketNotFound is returned when the bucket does not exist.
	ErrBucketNotFound = errors.New("bucket not found")
	// ErrAccessDenied is returned when the endpoint refuses the
	// credentials (unknown access key, wrong secret key, expired session
	// token) or the access they grant.
	ErrAccessDenied = errors.New("access denied")
	// ErrLimitExceeded is returned when a listing holds more objects, or
	// its selection more bytes, than the options allow, and when a
	// response other than an object's content exceeds MaxResponseSize.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrUnsafeKey is returned for an object key that cannot name a file
	// inside the destination: absolute, with "." or ".." elements, empty
	// elements, backslashes or control characters, too long, listed twice,
	// or both an object and the folder of another selected object.
	ErrUnsafeKey = errors.New("unsafe object key")
	// ErrObjectChanged is returned when an object changed between the
	// listing and its download (another ETag or size, or gone): list
	// again.
	ErrObjectChanged = errors.New("object changed since it was listed")
	// ErrInvalidOptions is returned by New and the calls for options that
	// can never work (an endpoint with a scheme or path, an invalid bucket
	// name, a destination that is not empty).
	ErrInvalidOptions = errors.New("invalid options")
)

// Error is a request the S3 endpoint answered with an error. Its fields
// carry no credential: the access key, secret key, session token and proxy
// password, and the signing parameters of any URL, are replaced with "***"
// in the message and every other field the server filled in.
//
// It matches [ErrBucketNotFound], [ErrAccessDenied] or [ErrObjectChanged]
// with errors.Is, according to its code and status.
type Error struct {
	// Op is what was attempted: "list" or "get".
	Op string
	// Bucket and Key name the target (Key is empty for a listing).
	Bucket, Key string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Code is the S3 error code, e.g. "NoSuchBucket".
	Code string
	// Message is the server's message, masked.
	Message string
	// RequestID is the server's request ID, masked.
	RequestID string

	kind error
}

func (e *Error) Error() string {
	target := e.Bucket
	if e.Key != "" {
		target += "/" + quoteKey(e.Key)
	}
	status := fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	msg := fmt.Sprintf("%s %s: %s", e.Op, target, status)
	// minio-go names a code after the status when the answer held none.
	if e.Code != "" && e.Code != status && e.Code != http.StatusText(e.StatusCode) {
		msg += ": " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the sentinel the error matches, if any.
func (e *Error) Unwrap() error { return e.kind }

// errorKind maps an S3 error code and status to a sentinel.
func errorKind(op, code string, status int) error {
	switch code {
	case "NoSuchBucket":
		return ErrBucketNotFound
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "InvalidSecurity", "AccountProblem",
		"AllAccessDisabled", "AuthorizationHeaderMalformed", "MissingSecurityHeader":
		return ErrAccessDenied
	case "NoSuchKey", "PreconditionFailed":
		if op == "get" {
			return ErrObjectChanged
		}
	}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAccessDenied
	case http.StatusPreconditionFailed:
		if op == "get" {
			return ErrObjectChanged
		}
	}
	return nil
}

// masker removes credentials from text an endpoint, a proxy or a
// transport produced.
type masker struct {
	literals []string
}

// newMasker masks the given secret values, in the forms a request
// carries them (as they are, URL-encoded, and base64 user:password for a
// proxy's Basic authentication).
func newMasker(values ...string) *masker {
	m := &masker{}
	for _, v := range values {
		m.add(v)
	}
	return m
}

func (m *masker) add(v string) {
	if len(v) < 4 { // masking a short value would garble every message
		return
	}
	for _, f := range []string{v, url.QueryEscape(v), url.PathEscape(v), strings.ReplaceAll(url.QueryEscape(v), "+", "%20")} {
		if !containsString(m.literals, f) {
			m.literals = append(m.literals, f)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// signing matches the parameters that authenticate a request, whatever
// their value: the SigV4 and SigV2 query parameters of a presigned URL and
// the fields of an Authorization header.
var signing = regexp.MustCompile(`(?i)(x-amz-signature|x-amz-credential|x-amz-security-token|awsaccesskeyid|signature|credential)(=|%3D|:\s*)[^&\s,"'<>;]*`)

// mask returns s with every credential replaced by "***".
func (m *masker) mask(s string) string {
	for _, l := range m.literals {
		s = strings.ReplaceAll(s, l, "***")
	}
	return signing.ReplaceAllString(s, "${1}${2}***")
}

// maskedError is a transport error whose text had to be masked: it keeps
// the masked text only.
type maskedError struct{ msg string }

func (e *maskedError) Error() string { return e.msg }

// wrap turns an error of minio-go or the transport into one that can be
// shown: an *Error for an S3 answer, the context's cause when the call was
// cancelled or ran out of time, otherwise the error itself when its text
// holds no credential, or its masked text.
func (c *Client) wrap(ctxErr error, op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr != nil {
		return fmt.Errorf("%s %s: %w", op, target(bucket, key), ctxErr)
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.StatusCode != 0 || er.Code != "") {
		return &Error{
			Op:         op,
			Bucket:     bucket,
			Key:        key,
			StatusCode: er.StatusCode,
			Code:       c.masker.mask(er.Code),
			Message:    c.masker.mask(er.Message),
			RequestID:  c.masker.mask(er.RequestID),
			kind:       errorKind(op, er.Code, er.StatusCode),
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		inner := ue.Err
		if s := inner.Error(); c.masker.mask(s) != s {
			inner = &maskedError{c.masker.mask(s)}
		}
		return fmt.Errorf("%s %s: %w", op, target(bucket, key), &url.Error{Op: ue.Op, URL: c.maskURL(ue.URL), Err: inner})
	}
	if s := err.Error(); c.masker.mask(s) != s {
		err = &maskedError{c.masker.mask(s)}
	}
	return fmt.Errorf("%s %s: %w", op, target(bucket, key), err)
}

// maskURL drops a URL's user information and query (which may carry
// signatures) and masks what is left.
func (c *Client) maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "***"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "***"
	}
	u.Fragment = ""
	return c.masker.mask(u.String())
}

func target(bucket, key string) string {
	if key == "" {
		return bucket
	}
	return bucket + "/" + quoteKey(key)
}

// quoteKey quotes a key for a message, shortened: keys come from the
// bucket's owner and may be long or hold anything.
func quoteKey(k string) string {
	const max = 200
	if len(k) > max {
		k = k[:max] + "…"
	}
	return fmt.Sprintf("%q", k)
}
