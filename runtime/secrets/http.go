package secrets

import (
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The keys HTTPAuthFromSecret reads.
const (
	UsernameKey    = "username"
	PasswordKey    = "password"
	BearerTokenKey = "bearerToken"
)

// HTTPAuth is HTTP credentials: either basic auth (Username and Password) or
// a BearerToken, never both.
type HTTPAuth struct {
	Username    string
	Password    string
	BearerToken string
}

// HTTPAuthFromSecret reads username and password, or bearerToken. Setting
// both kinds is an ErrConflict, setting neither an ErrMissingKey, and a
// username without password (or the reverse) an ErrMissingKey for the
// absent one.
//
// One trailing newline ("\n" or "\r\n"), as left by `kubectl create secret
// --from-file` of a file written by an editor, is removed from each value;
// any other control character is an ErrInvalidValue, as is a username
// containing ':' (which basic auth cannot carry).
func HTTPAuthFromSecret(s *corev1.Secret) (*HTTPAuth, error) {
	if s == nil {
		return nil, ErrNilSecret
	}
	_, hasUser := value(s, UsernameKey)
	_, hasPass := value(s, PasswordKey)
	_, hasToken := value(s, BearerTokenKey)
	switch {
	case hasToken && (hasUser || hasPass):
		return nil, keyErr(s, BearerTokenKey, ErrConflict, "set either username and password, or bearerToken")
	case hasToken:
		tok, err := headerValue(s, BearerTokenKey)
		if err != nil {
			return nil, err
		}
		return &HTTPAuth{BearerToken: tok}, nil
	case !hasUser && !hasPass:
		return nil, keyErr(s, UsernameKey, ErrMissingKey, "set username and password, or bearerToken")
	case !hasPass:
		return nil, keyErr(s, PasswordKey, ErrMissingKey, "username is set and needs a password")
	case !hasUser:
		return nil, keyErr(s, UsernameKey, ErrMissingKey, "password is set and needs a username")
	}
	user, err := headerValue(s, UsernameKey)
	if err != nil {
		return nil, err
	}
	if strings.Contains(user, ":") {
		return nil, keyErr(s, UsernameKey, ErrInvalidValue, "basic auth usernames cannot contain ':'")
	}
	pass, err := headerValue(s, PasswordKey)
	if err != nil {
		return nil, err
	}
	return &HTTPAuth{Username: user, Password: pass}, nil
}

// SetAuth sets the request's Authorization header.
func (a *HTTPAuth) SetAuth(req *http.Request) {
	if a.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+a.BearerToken)
		return
	}
	req.SetBasicAuth(a.Username, a.Password)
}

// String masks the password and token.
func (a *HTTPAuth) String() string {
	return "HTTPAuth{Username: " + quoteOrEmpty(a.Username) + ", Password: " + mask([]byte(a.Password)) +
		", BearerToken: " + mask([]byte(a.BearerToken)) + "}"
}

// GoString masks the password and token.
func (a *HTTPAuth) GoString() string { return "&secrets." + a.String() }

func quoteOrEmpty(s string) string { return `"` + s + `"` }

// headerValue reads a key whose value goes into an HTTP header or URL: one
// trailing newline is dropped and other control characters are refused.
func headerValue(s *corev1.Secret, key string) (string, error) {
	v, err := required(s, key)
	if err != nil {
		return "", err
	}
	str := strings.TrimSuffix(strings.TrimSuffix(string(v), "\n"), "\r")
	if str == "" {
		return "", keyErr(s, key, ErrMissingKey, "")
	}
	if strings.ContainsFunc(str, isControl) {
		return "", keyErr(s, key, ErrInvalidValue, "contains control characters")
	}
	return str, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
