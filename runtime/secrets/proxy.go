package secrets

import (
	"net/url"

	corev1 "k8s.io/api/core/v1"
)

// AddressKey is the key ProxyURLFromSecret reads the proxy URL from; the
// optional credentials are in UsernameKey and PasswordKey.
const AddressKey = "address"

// ProxyURLFromSecret reads a proxy URL from address (http, https, socks5 or
// socks5h, with a host) and sets its user info from username and password
// when present, replacing any in the address. A password without a username
// is an ErrMissingKey.
//
// The URL returned may hold a password: log u.Redacted(), never u.String().
func ProxyURLFromSecret(s *corev1.Secret) (*url.URL, error) {
	if s == nil {
		return nil, ErrNilSecret
	}
	addr, err := headerValue(s, AddressKey)
	if err != nil {
		return nil, err
	}
	// url.Parse's errors quote the URL, which may hold a password: they are
	// replaced by fixed messages.
	u, err := url.Parse(addr)
	if err != nil {
		return nil, keyErr(s, AddressKey, ErrInvalidValue, "not a valid URL")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, keyErr(s, AddressKey, ErrInvalidValue, "not an http, https, socks5 or socks5h URL")
	}
	if u.Hostname() == "" {
		return nil, keyErr(s, AddressKey, ErrInvalidValue, "the URL has no host")
	}
	_, hasUser := value(s, UsernameKey)
	_, hasPass := value(s, PasswordKey)
	switch {
	case hasUser:
		user, err := headerValue(s, UsernameKey)
		if err != nil {
			return nil, err
		}
		if !hasPass {
			u.User = url.User(user)
			break
		}
		pass, err := headerValue(s, PasswordKey)
		if err != nil {
			return nil, err
		}
		u.User = url.UserPassword(user, pass)
	case hasPass:
		return nil, keyErr(s, UsernameKey, ErrMissingKey, "password is set and needs a username")
	}
	return u, nil
}
