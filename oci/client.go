package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Defaults of the client's options.
const (
	// DefaultMaxLayerSize bounds the compressed size of a pulled layer.
	DefaultMaxLayerSize int64 = 256 << 20
	// DefaultMaxManifestSize bounds manifests and signature payloads.
	DefaultMaxManifestSize int64 = 4 << 20
	// DefaultTimeout bounds each call (Push, Pull, List...).
	DefaultTimeout = 5 * time.Minute
	// DefaultRetries is the number of attempts of a failed request.
	DefaultRetries = 4
)

// Client talks to OCI registries. It is safe for concurrent use; create one
// per set of credentials and reuse it, so connections and tokens are reused.
type Client struct {
	auth        authn.Authenticator
	keychain    authn.Keychain
	insecure    bool
	rootCAs     *x509.CertPool
	certs       []tls.Certificate
	base        http.RoundTripper
	proxy       *url.URL
	retries     int
	backoff     time.Duration
	timeout     time.Duration
	userAgent   string
	maxLayer    int64
	maxManifest int64
	secrets     *secretSet
	configErr   error
	puller      *remote.Puller
	pusher      *remote.Pusher
	remoteOpts  []remote.Option
	nameOpts    []name.Option
}

// Option configures a Client.
type Option func(*Client)

// WithAuth authenticates every request with a (anonymous when not set).
// It takes precedence over WithKeychain.
func WithAuth(a authn.Authenticator) Option { return func(c *Client) { c.auth = a } }

// WithBasicAuth authenticates with a user name and password (or token used
// as a password), exchanged for a bearer token when the registry asks.
func WithBasicAuth(username, password string) Option {
	return func(c *Client) {
		c.auth = &authn.Basic{Username: username, Password: password}
		c.secrets.addBasic(username, password)
	}
}

// WithBearerToken sends token as a registry bearer token as is.
func WithBearerToken(token string) Option {
	return func(c *Client) {
		c.auth = &authn.Bearer{Token: token}
		c.secrets.add(token)
	}
}

// WithKeychain resolves credentials per registry through k. Use
// authn.NewMultiKeychain to combine keychains. Credential helpers
// (docker-credential-*) run external programs: they are used only if the
// caller passes a keychain that runs them, such as authn.DefaultKeychain,
// which also reads the user's ~/.docker/config.json. This package never
// does so on its own.
func WithKeychain(k authn.Keychain) Option { return func(c *Client) { c.keychain = k } }

// WithDockerConfig resolves credentials from a docker config.json document,
// as found under the ".dockerconfigjson" key of a
// kubernetes.io/dockerconfigjson Secret. Its "credHelpers" and "credsStore"
// are ignored (they would run programs). A malformed document makes NewClient
// fail with an error that never quotes the document.
func WithDockerConfig(configJSON []byte) Option {
	return func(c *Client) {
		k, secrets, err := parseDockerConfig(configJSON)
		if err != nil {
			c.configErr = err
			return
		}
		c.keychain = k
		for _, a := range secrets {
			c.secrets.addBasic(a.Username, a.Password)
			c.secrets.add(a.IdentityToken, a.RegistryToken)
		}
	}
}

// WithRootCAs trusts pool instead of the system roots for HTTPS.
func WithRootCAs(pool *x509.CertPool) Option { return func(c *Client) { c.rootCAs = pool } }

// WithClientCertificate presents cert to registries that ask for one (mTLS).
func WithClientCertificate(cert tls.Certificate) Option {
	return func(c *Client) { c.certs = append(c.certs, cert) }
}

// WithInsecure allows plain HTTP. Without it every plain HTTP request,
// including redirects, fails with ErrInsecure, even to loopback registries.
func WithInsecure(insecure bool) Option { return func(c *Client) { c.insecure = insecure } }

// WithProxy sends every request through the HTTP(S) or SOCKS5 proxy at u
// instead of the one the environment names (HTTPS_PROXY and friends). Proxy
// credentials may be given as u's user info: they are sent to the proxy
// only, and masked in every error like the registry credentials. Ignored
// with WithTransport, whose transport chooses its own proxy.
func WithProxy(u *url.URL) Option {
	return func(c *Client) {
		if u == nil {
			return
		}
		cp := *u
		c.proxy = &cp
		if u.User != nil {
			pw, _ := u.User.Password()
			c.secrets.addBasic(u.User.Username(), pw)
		}
	}
}

// WithTransport replaces the base HTTP transport (TLS options are then the
// transport's business; the plain-HTTP guard still applies).
func WithTransport(rt http.RoundTripper) Option { return func(c *Client) { c.base = rt } }

// WithRetries sets the number of attempts of a request failing with 408,
// 429, 5xx or a connection error, and the first backoff, tripled each time.
// Zero values keep the defaults (4 attempts, 200 ms).
func WithRetries(attempts int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = attempts, backoff }
}

// WithTimeout bounds each call of the client (default 5 min).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithUserAgent replaces the User-Agent prefix (default gitopskit-oci/<version>).
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithMaxLayerSize bounds the compressed size of layers pulled or diffed
// (default DefaultMaxLayerSize).
func WithMaxLayerSize(n int64) Option { return func(c *Client) { c.maxLayer = n } }

// NewClient returns a client with the options applied.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		retries:     DefaultRetries,
		backoff:     200 * time.Millisecond,
		timeout:     DefaultTimeout,
		maxLayer:    DefaultMaxLayerSize,
		maxManifest: DefaultMaxManifestSize,
		userAgent:   "gitopskit-oci/" + moduleVersion(),
		secrets:     newSecretSet(),
	}
	for _, o := range opts {
		o(c)
	}
	if c.configErr != nil {
		return nil, c.configErr
	}
	c.secrets.freeze()
	if c.retries <= 0 {
		c.retries = DefaultRetries
	}
	if c.backoff <= 0 {
		c.backoff = 200 * time.Millisecond
	}
	base := c.base
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = http.ProxyFromEnvironment
		if c.proxy != nil {
			t.Proxy = http.ProxyURL(c.proxy)
		}
		t.TLSHandshakeTimeout = 15 * time.Second
		t.ResponseHeaderTimeout = 60 * time.Second
		t.MaxIdleConnsPerHost = 8
		t.TLSClientConfig = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			RootCAs:      c.rootCAs,
			Certificates: c.certs,
		}
		base = t
	}
	c.remoteOpts = []remote.Option{
		remote.WithTransport(&guard{next: base, insecure: c.insecure, attempts: c.retries, backoff: c.backoff, secrets: c.secrets}),
		remote.WithUserAgent(c.userAgent),
		remote.WithRetryBackoff(remote.Backoff{Duration: c.backoff, Factor: 3, Jitter: 0.2, Steps: c.retries}),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		remote.WithRetryPredicate(retryable),
	}
	switch {
	case c.auth != nil:
		c.remoteOpts = append(c.remoteOpts, remote.WithAuth(c.auth))
	case c.keychain != nil:
		c.remoteOpts = append(c.remoteOpts, remote.WithAuthFromKeychain(c.keychain))
	}
	if c.insecure {
		c.nameOpts = append(c.nameOpts, name.Insecure)
	}
	var err error
	if c.puller, err = remote.NewPuller(c.remoteOpts...); err != nil {
		return nil, fmt.Errorf("create puller: %w", err)
	}
	if c.pusher, err = remote.NewPusher(c.remoteOpts...); err != nil {
		return nil, fmt.Errorf("create pusher: %w", err)
	}
	return c, nil
}

// moduleVersion is this module's version from the build information.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/gitopskit/kit/oci" && d.Version != "" && d.Version != "(devel)" {
				return d.Version
			}
		}
	}
	return "devel"
}

// retryable reports whether a failed request may be tried again: timeouts,
// resets, refused connections and cut bodies, never cancellation nor our own
// plain-HTTP refusal.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrInsecure) {
		return false
	}
	// A TLS client talking to a plain HTTP server, or a certificate that
	// does not verify, will not get better.
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	if errors.As(err, &cve) || errors.As(err, &rhe) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return false
	}
	// Status codes chosen by WithRetryStatusCodes arrive as
	// *transport.Error, whose Temporary reports them.
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return te.Temporary()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// guard refuses plain HTTP unless insecure, and retries requests that
// can be replayed (no body, or a body it can reopen) on 408, 429, 5xx and
// broken connections, with exponential backoff and jitter, honouring
// Retry-After (bounded). go-containerregistry retries whole operations too,
// but turns its own transport retries off inside uploads; retrying each
// request here keeps a flaky registry from failing a push.
type guard struct {
	next     http.RoundTripper
	insecure bool
	attempts int
	backoff  time.Duration
	secrets  *secretSet // learns the credentials each request sends
}

// reopener is a request body that can be read again from the start.
type reopener interface {
	Reopen() (io.ReadCloser, error)
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !g.insecure {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, ErrInsecure)
	}
	for _, h := range req.Header.Values("Authorization") {
		g.secrets.addHeader(h)
	}
	// The version check (GET /v2/) is go-containerregistry's ping: it races
	// https against http and retries it itself; retrying here would only
	// delay the fallback.
	replayable := (req.Body == nil || req.Body == http.NoBody || req.GetBody != nil) && req.URL.Path != "/v2/"
	if !replayable {
		if ro, ok := req.Body.(reopener); ok {
			req.GetBody = ro.Reopen
			replayable = true
		}
	}
	delay := g.backoff
	for attempt := 1; ; attempt++ {
		resp, err := g.next.RoundTrip(req)
		if attempt >= g.attempts || !replayable || !retryableResponse(resp, err) {
			return resp, err
		}
		wait := delay
		if resp != nil {
			if s, perr := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); perr == nil && s > wait && s <= 30*time.Second {
				wait = s
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
		delay *= 3
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

func retryableResponse(resp *http.Response, err error) bool {
	if err != nil {
		return retryable(err)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// call bounds ctx by the client's timeout.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

// parseRef parses an image reference, accepting an "oci://" prefix and
// refusing embedded credentials without quoting them.
func (c *Client) parseRef(ref string) (name.Reference, error) {
	s, err := c.trimRef(ref)
	if err != nil {
		return nil, err
	}
	r, err := name.ParseReference(s, append([]name.Option{name.StrictValidation}, c.nameOpts...)...)
	if err != nil {
		// A reference without tag or digest is not an error for callers
		// that select tags; they use parseRepo.
		return nil, fmt.Errorf("%w %q: want host/repository:tag or @sha256:digest", ErrInvalidReference, s)
	}
	return r, nil
}

// parseRepo parses a repository (no tag nor digest).
func (c *Client) parseRepo(ref string) (name.Repository, error) {
	s, err := c.trimRef(ref)
	if err != nil {
		return name.Repository{}, err
	}
	r, err := name.NewRepository(s, append([]name.Option{name.StrictValidation}, c.nameOpts...)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("%w %q: want host/repository", ErrInvalidReference, s)
	}
	return r, nil
}

func (c *Client) trimRef(ref string) (string, error) {
	s := strings.TrimPrefix(ref, "oci://")
	host, _, _ := strings.Cut(s, "/")
	if strings.Contains(host, "@") || strings.Contains(s, "://") {
		return "", fmt.Errorf("%w: must not contain credentials nor a url scheme other than oci://", ErrInvalidReference)
	}
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidReference)
	}
	return s, nil
}

// hasTagOrDigest reports whether ref names a tag or a digest (as opposed to
// a bare repository).
func hasTagOrDigest(ref string) bool {
	s := strings.TrimPrefix(ref, "oci://")
	if strings.Contains(s, "@") {
		return true
	}
	i := strings.LastIndex(s, "/")
	return strings.Contains(s[i+1:], ":")
}
