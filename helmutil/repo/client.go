package repo

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of a Repository.
const (
	// DefaultTimeout bounds each fetch: the index or a chart with its
	// provenance file.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxChartBytes bounds a chart package download.
	DefaultMaxChartBytes int64 = 50 << 20
	// MaxProvenanceBytes bounds a provenance file.
	MaxProvenanceBytes = 1 << 20
)

// Repository is an HTTP(S) chart repository: where it is and how to reach
// it. It is safe for concurrent use.
type Repository struct {
	base            *url.URL
	user, pass      string
	token           string
	passCredentials bool
	tlsConfig       *tls.Config
	transport       http.RoundTripper
	timeout         time.Duration
	maxIndex        int64
	maxChart        int64
	userAgent       string

	client *http.Client
}

// Option configures a Repository.
type Option func(*Repository)

// WithBasicAuth authenticates with HTTP basic auth: sent to the
// repository's own scheme, host and port only, unless WithPassCredentials.
func WithBasicAuth(username, password string) Option {
	return func(r *Repository) { r.user, r.pass = username, password }
}

// WithBearerToken authenticates with "Authorization: Bearer <token>", under
// the same rule as WithBasicAuth.
func WithBearerToken(token string) Option { return func(r *Repository) { r.token = token } }

// WithPassCredentials sends the credentials to every host the repository
// sends us to (chart URLs on other hosts, redirects), as Helm's and Flux's
// passCredentials do. Off by default.
func WithPassCredentials(pass bool) Option { return func(r *Repository) { r.passCredentials = pass } }

// WithTLSConfig sets the TLS configuration: trusted CAs (RootCAs), a client
// certificate for mTLS (Certificates), as runtime/secrets' TLS.Config()
// builds from a Secret. It is cloned.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(r *Repository) { r.tlsConfig = cfg.Clone() }
}

// WithTransport replaces the HTTP transport (WithTLSConfig then does not
// apply). Credentials are still added by the Repository, per request.
func WithTransport(rt http.RoundTripper) Option { return func(r *Repository) { r.transport = rt } }

// WithTimeout bounds each fetch (default 60 s); the context bounds it too.
func WithTimeout(d time.Duration) Option { return func(r *Repository) { r.timeout = d } }

// WithMaxIndexSize bounds the index download (default 256 MiB).
func WithMaxIndexSize(n int64) Option { return func(r *Repository) { r.maxIndex = n } }

// WithMaxChartSize bounds a chart package download (default 50 MiB).
func WithMaxChartSize(n int64) Option { return func(r *Repository) { r.maxChart = n } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(r *Repository) { r.userAgent = ua } }

// New returns the repository at repoURL (http or https; the directory
// index.yaml is in). A URL with user info is refused: pass credentials
// with WithBasicAuth.
func New(repoURL string, opts ...Option) (*Repository, error) {
	u, err := parseHTTPURL(repoURL)
	if err != nil {
		return nil, err
	}
	r := &Repository{
		base:      u,
		timeout:   DefaultTimeout,
		maxIndex:  DefaultMaxIndexBytes,
		maxChart:  DefaultMaxChartBytes,
		userAgent: "gitopskit-helmutil",
	}
	for _, o := range opts {
		o(r)
	}
	if r.token != "" && (r.user != "" || r.pass != "") {
		return nil, errors.New("repository: set basic auth or a bearer token, not both")
	}
	base := r.transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSHandshakeTimeout = 15 * time.Second
		t.ResponseHeaderTimeout = 60 * time.Second
		t.TLSClientConfig = r.tlsConfig
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		base = t
	}
	r.client = &http.Client{Transport: &authTransport{r: r, base: base}}
	return r, nil
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: does not parse", ErrInvalidURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q, want http or https", ErrInvalidURL, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the url of %s; use WithBasicAuth", ErrInvalidURL, u.Host)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	return u, nil
}

// URL returns the repository URL.
func (r *Repository) URL() string { return r.base.String() }

// IndexURL returns the URL of the repository's index.yaml (the
// repository's query, if any, kept).
func (r *Repository) IndexURL() string {
	u := *r.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/index.yaml"
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, "/") + "/index.yaml"
	}
	return u.String()
}

// ChartURL returns the absolute URL of the version's package: its first
// URL, resolved against the repository URL as Helm resolves it (relative
// to the repository's directory, the repository's query kept).
func (r *Repository) ChartURL(cv ChartVersion) (string, error) {
	if len(cv.URLs) == 0 || cv.URLs[0] == "" {
		return "", fmt.Errorf("chart %s %s: %w", cv.Name, cv.Version, ErrNoURL)
	}
	ref, err := url.Parse(cv.URLs[0])
	if err != nil {
		return "", fmt.Errorf("chart %s %s: %w: does not parse", cv.Name, cv.Version, ErrInvalidURL)
	}
	if ref.IsAbs() {
		if _, err := parseHTTPURL(cv.URLs[0]); err != nil {
			return "", fmt.Errorf("chart %s %s: %w", cv.Name, cv.Version, err)
		}
		return cv.URLs[0], nil
	}
	b := *r.base
	b.RawPath = strings.TrimSuffix(b.RawPath, "/") + "/"
	if b.RawPath == "/" {
		b.RawPath = ""
	}
	b.Path = strings.TrimSuffix(b.Path, "/") + "/"
	u := b.ResolveReference(ref)
	u.RawQuery = r.base.RawQuery
	return u.String(), nil
}

// sendsCredentials reports whether a request to u carries the credentials.
func (r *Repository) sendsCredentials(u *url.URL) bool {
	return r.passCredentials || (u.Scheme == r.base.Scheme && u.Host == r.base.Host)
}

// authTransport adds the credentials to each request (each redirect hop
// included) whose destination may receive them.
type authTransport struct {
	r    *Repository
	base http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := t.r
	req = req.Clone(req.Context())
	req.Header.Del("Authorization")
	if r.userAgent != "" {
		req.Header.Set("User-Agent", r.userAgent)
	}
	if r.sendsCredentials(req.URL) {
		switch {
		case r.token != "":
			req.Header.Set("Authorization", "Bearer "+r.token)
		case r.user != "" || r.pass != "":
			req.SetBasicAuth(r.user, r.pass)
		}
	}
	return t.base.RoundTrip(req)
}

// redact returns u without user info nor query: what errors and logs show.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid url>"
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return u.String()
}

// mask replaces the credentials, in the forms a server may echo them, in
// an error message.
func (r *Repository) mask(msg string) string {
	var secrets []string
	if r.token != "" {
		secrets = append(secrets, r.token, url.QueryEscape(r.token))
	}
	if r.user != "" || r.pass != "" {
		pair := r.user + ":" + r.pass
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(pair)), pair, url.QueryEscape(pair))
		if len(r.pass) >= 3 {
			secrets = append(secrets, r.pass, url.QueryEscape(r.pass))
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return msg
}

// maskedError carries a message rebuilt without URLs' secrets and
// credentials, and the kinds of the original error for errors.Is.
type maskedError struct {
	msg   string
	kinds []error
}

func (e *maskedError) Error() string   { return e.msg }
func (e *maskedError) Unwrap() []error { return e.kinds }

// wrapErr rebuilds a transport error for what, without the URL's query
// and with the credentials masked, keeping context and timeout errors
// matchable.
func (r *Repository) wrapErr(what, rawURL string, err error) error {
	var kinds []error
	for _, k := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		kinds = append(kinds, context.DeadlineExceeded)
	}
	var ie *IndexError
	if errors.As(err, &ie) {
		kinds = append(kinds, ie)
	}
	for _, k := range []error{ErrLimitExceeded, ErrDigestMismatch, ErrProvenance, ErrInvalidIndex} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := r.mask(fmt.Sprintf("%s %s: %s", what, redact(rawURL), stripURLs(err.Error())))
	return &maskedError{msg: msg, kinds: kinds}
}

// stripURLs removes the query of any URL quoted in an error message (a
// redirect target may carry a signature or a token there).
func stripURLs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + 3
		for end < len(s) && !strings.ContainsRune(" \t\n\"'<>", rune(s[end])) {
			end++
		}
		start := i
		for start > 0 && isSchemeChar(s[start-1]) {
			start--
		}
		b.WriteString(s[:start])
		b.WriteString(redact(s[start:end]))
		s = s[end:]
	}
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'
}
