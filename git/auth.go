package git

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gitopskit/kit/git/internal/redact"
)

// Keys of a Secret's data understood by AuthFromSecret.
const (
	SecretUsername    = "username"
	SecretPassword    = "password"
	SecretBearerToken = "bearerToken"
	SecretIdentity    = "identity"
	SecretKnownHosts  = "known_hosts"
	SecretCA          = "ca.crt"
	SecretCert        = "tls.crt"
	SecretKey         = "tls.key"
)

// AuthOptions carries the credentials and transport settings of a remote.
// The zero value means anonymous access with the system's TLS roots.
//
// Over HTTPS: Username+Password (basic) or BearerToken, never both; CA adds a
// trusted root; Cert+Key present a client certificate. Over SSH: Identity is a
// PEM/OpenSSH private key (ed25519, ECDSA or RSA), Password its passphrase;
// KnownHosts is mandatory and strict.
type AuthOptions struct {
	Username    string
	Password    string
	BearerToken string
	Identity    []byte
	KnownHosts  []byte
	CA          []byte
	Cert        []byte
	Key         []byte
	// ProxyURL routes the connection through an HTTP(S) proxy (for HTTP
	// remotes) or a SOCKS5/HTTP CONNECT proxy (for SSH remotes). Proxy
	// credentials may be given as URL userinfo; they are never reported.
	ProxyURL string
	// AllowInsecureHTTP permits sending credentials over plain http://.
	AllowInsecureHTTP bool
}

// AuthFromSecret builds AuthOptions from a Kubernetes Secret's data, using
// the key names of the Secret* constants. Unknown keys are ignored.
func AuthFromSecret(data map[string][]byte) AuthOptions {
	return AuthOptions{
		Username:    string(data[SecretUsername]),
		Password:    string(data[SecretPassword]),
		BearerToken: string(data[SecretBearerToken]),
		Identity:    data[SecretIdentity],
		KnownHosts:  data[SecretKnownHosts],
		CA:          data[SecretCA],
		Cert:        data[SecretCert],
		Key:         data[SecretKey],
	}
}

// String masks every secret so AuthOptions can be printed safely.
func (a AuthOptions) String() string {
	var parts []string
	if a.Username != "" {
		parts = append(parts, "username="+a.Username)
	}
	for name, set := range map[string]bool{
		"password": a.Password != "", "bearerToken": a.BearerToken != "",
		"identity": len(a.Identity) > 0, "tls.key": len(a.Key) > 0,
	} {
		if set {
			parts = append(parts, name+"=***")
		}
	}
	return "AuthOptions{" + strings.Join(parts, " ") + "}"
}

// hasHTTPCredentials reports whether HTTP credentials are set.
func (a AuthOptions) hasHTTPCredentials() bool {
	return a.Username != "" || a.Password != "" || a.BearerToken != "" || len(a.Key) > 0
}

// urlCredentials reports whether a URL carries userinfo or a query.
func urlCredentials(remote string) bool {
	u, err := url.Parse(remote)
	return err != nil || u.User != nil || RedactURL(remote) != remote
}

// Validate checks the options against the remote URL: scheme support,
// basic XOR bearer, credentials over http, SSH known_hosts.
func (a AuthOptions) Validate(remote string) error {
	scheme, err := Scheme(remote)
	if err != nil {
		return err
	}
	switch scheme {
	case "http", "https":
		if a.BearerToken != "" && (a.Username != "" || a.Password != "") {
			return fmt.Errorf("%w: basic auth and bearer token are mutually exclusive", ErrInvalidOptions)
		}
		if (len(a.Cert) > 0) != (len(a.Key) > 0) {
			return fmt.Errorf("%w: tls.crt and tls.key must be given together", ErrInvalidOptions)
		}
		if scheme == "http" && (a.hasHTTPCredentials() || urlCredentials(remote)) && !a.AllowInsecureHTTP {
			return fmt.Errorf("%w: refusing to send credentials over plain http", ErrInvalidOptions)
		}
	case "ssh":
		if len(a.KnownHosts) == 0 {
			return fmt.Errorf("%w: ssh remotes need known_hosts", ErrInvalidOptions)
		}
		if len(a.Identity) == 0 {
			return fmt.Errorf("%w: ssh remotes need an identity", ErrInvalidOptions)
		}
	}
	return nil
}

// Scheme returns the transport of a remote URL: "http", "https" or "ssh"
// (scp-like "git@host:path" is ssh). Other schemes are refused: file:// would
// let a remote URL read the local disk.
func Scheme(remote string) (string, error) {
	if i := strings.Index(remote, "://"); i < 0 {
		// scp-like: [user@]host:path
		if at := strings.Index(remote, ":"); at > 0 && !strings.ContainsAny(remote[:at], "/") {
			return "ssh", nil
		}
		return "", fmt.Errorf("%w: unsupported remote URL %q", ErrInvalidOptions, RedactURL(remote))
	}
	u, err := url.Parse(remote)
	if err != nil {
		return "", fmt.Errorf("%w: malformed remote URL", ErrInvalidOptions)
	}
	switch s := strings.ToLower(u.Scheme); s {
	case "http", "https", "ssh":
		if u.Host == "" {
			return "", fmt.Errorf("%w: remote URL %q has no host", ErrInvalidOptions, RedactURL(remote))
		}
		return s, nil
	}
	return "", fmt.Errorf("%w: unsupported scheme in %q", ErrInvalidOptions, RedactURL(remote))
}

// RedactURL returns remote with every credential it may carry removed, so
// it can be shown in a message or a log:
//
//   - userinfo: the whole "user:password@" of http(s) and other URLs (the
//     user name can be a token), the password of ssh:// and scp-like
//     "user:password@host:path" remotes (whose user name is kept), in any
//     spelling ("https://", "https:/", opaque "https:"), even with "@",
//     "/", "?" or "#" unescaped in the password;
//   - query values that carry a credential: those whose parameter name
//     names one (token, private_token, access_token, password, secret,
//     key, signature, sig, credential, auth, session, code, …) and those
//     that look like one (16 characters or more mixing letters and
//     digits), each replaced by "***";
//   - the fragment, replaced by "#***".
func RedactURL(remote string) string { return redact.URL(remote) }
