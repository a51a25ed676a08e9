package bucket

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Defaults of the Client's options.
const (
	// DefaultRetries is the number of attempts of a request that failed
	// with a 5xx answer or a connection error.
	DefaultRetries = 4
)

// Client reads the buckets of one S3-compatible endpoint. It is safe for
// concurrent use.
type Client struct {
	endpoint string
	minio    *minio.Client
	core     minio.Core
	masker   *masker
}

type config struct {
	accessKey, secretKey, sessionToken string
	region                             string
	insecure                           bool
	rootCAs                            *x509.CertPool
	certs                              []tls.Certificate
	proxy                              *url.URL
	transport                          http.RoundTripper
	retries                            int
}

// Option configures a Client.
type Option func(*config)

// WithStaticCredentials signs every request (AWS Signature Version 4) with
// an access key and a secret key, and sends sessionToken, when not empty,
// as the session token of temporary credentials. Without it requests are
// anonymous, which public buckets allow. None of the three ever appears in
// an error.
func WithStaticCredentials(accessKey, secretKey, sessionToken string) Option {
	return func(c *config) { c.accessKey, c.secretKey, c.sessionToken = accessKey, secretKey, sessionToken }
}

// WithRegion sets the region requests are signed for. Without it the
// client asks the endpoint for the bucket's location once (one request per
// Client and bucket) before its first call.
func WithRegion(region string) Option { return func(c *config) { c.region = region } }

// WithInsecure allows plain HTTP to the endpoint. Without it the client
// speaks HTTPS only and verifies the server's certificate; there is no
// option to skip that verification.
func WithInsecure(insecure bool) Option { return func(c *config) { c.insecure = insecure } }

// WithRootCAs trusts pool instead of the system roots for HTTPS.
func WithRootCAs(pool *x509.CertPool) Option { return func(c *config) { c.rootCAs = pool } }

// WithClientCertificate presents cert to endpoints that ask for one (mTLS).
func WithClientCertificate(cert tls.Certificate) Option {
	return func(c *config) { c.certs = append(c.certs, cert) }
}

// WithProxy sends every request through the HTTP(S) or SOCKS5 proxy at u
// instead of the one the environment names (HTTPS_PROXY and friends).
// Proxy credentials may be given as u's user info: they are sent to the
// proxy only and masked in every error. Ignored with WithTransport.
func WithProxy(u *url.URL) Option {
	return func(c *config) {
		if u == nil {
			return
		}
		cp := *u
		c.proxy = &cp
	}
}

// WithTransport replaces the HTTP transport (WithRootCAs,
// WithClientCertificate and WithProxy are then the transport's business).
func WithTransport(rt http.RoundTripper) Option { return func(c *config) { c.transport = rt } }

// WithRetries sets the number of attempts of a request that failed with a
// 5xx answer or a connection error (default DefaultRetries; 1 never
// retries).
func WithRetries(attempts int) Option { return func(c *config) { c.retries = attempts } }

// New returns a client of the endpoint, host[:port] without a scheme or a
// path ("s3.eu-west-1.amazonaws.com", "minio.minio.svc:9000"): HTTPS unless
// WithInsecure(true). Buckets are addressed as minio-go does: virtual host
// style (bucket.endpoint) for Amazon S3 and Google Cloud Storage, path
// style (endpoint/bucket) for every other endpoint.
func New(endpoint string, opts ...Option) (*Client, error) {
	cfg := config{retries: DefaultRetries}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkEndpoint(endpoint); err != nil {
		return nil, err
	}
	m := newMasker(cfg.accessKey, cfg.secretKey, cfg.sessionToken)
	if cfg.proxy != nil && cfg.proxy.User != nil {
		pw, _ := cfg.proxy.User.Password()
		m.add(pw)
		m.add(basicAuth(cfg.proxy.User.Username(), pw))
	}
	rt := cfg.transport
	if rt == nil {
		rt = newTransport(cfg)
	}
	rt = limitBodies{rt}
	mo := &minio.Options{
		// Empty keys make anonymous requests.
		Creds:      credentials.NewStaticV4(cfg.accessKey, cfg.secretKey, cfg.sessionToken),
		Secure:     !cfg.insecure,
		Transport:  rt,
		Region:     cfg.region,
		MaxRetries: max(cfg.retries, 1),
	}
	mc, err := minio.New(endpoint, mo)
	if err != nil {
		return nil, fmt.Errorf("bucket: endpoint %q: %w: %s", endpoint, ErrInvalidOptions, m.mask(err.Error()))
	}
	return &Client{endpoint: endpoint, minio: mc, core: minio.Core{Client: mc}, masker: m}, nil
}

// Endpoint returns the endpoint the client was made for.
func (c *Client) Endpoint() string { return c.endpoint }

// checkEndpoint refuses what is not host[:port]: a scheme, a path, user
// information, a query, spaces.
func checkEndpoint(e string) error {
	bad := func(why string) error {
		return fmt.Errorf("bucket: endpoint must be host[:port] (%s): %w", why, ErrInvalidOptions)
	}
	switch {
	case e == "":
		return bad("empty")
	case strings.Contains(e, "://"):
		return bad("no scheme; plain HTTP is WithInsecure")
	case strings.ContainsAny(e, "/?#@\\ \t\r\n"):
		// Never quote it: the part before '@' may be credentials.
		return bad("no path, query or user information")
	}
	host := e
	if h, _, err := net.SplitHostPort(e); err == nil {
		host = h
	}
	if host == "" {
		return bad("no host")
	}
	return nil
}

// newTransport is the default transport: its own connection pool, TLS 1.2
// or later verified against the system roots or WithRootCAs, the proxy of
// WithProxy or the environment, bounded handshakes and response headers,
// and no transparent decompression (sizes are checked against the
// listing).
func newTransport(cfg config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	if cfg.proxy != nil {
		t.Proxy = http.ProxyURL(cfg.proxy)
	}
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	t.MaxIdleConnsPerHost = 64
	t.DisableCompression = true
	t.TLSClientConfig = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      cfg.rootCAs,
		Certificates: cfg.certs,
	}
	return t
}

func basicAuth(user, password string) string {
	if password == "" {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// MaxResponseSize bounds every response body but an object's content: a
// listing page (1,000 keys of at most 1 KiB make about 1.5 MB of XML), a
// bucket location, an error document. minio-go decodes them whole.
const MaxResponseSize = 16 << 20

// limitBodies holds the bodies MaxResponseSize bounds to it.
type limitBodies struct{ next http.RoundTripper }

func (l limitBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	q := r.URL.Query()
	_, listing := q["list-type"]
	_, location := q["location"]
	if listing || location || resp.StatusCode >= 300 || r.Method != http.MethodGet {
		resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseSize}
	}
	return resp, nil
}

// limitedBody fails a read past its limit instead of ending quietly, so a
// cut document is never mistaken for a whole one.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := io.ReadFull(b.rc, one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: response over %d bytes", ErrLimitExceeded, MaxResponseSize)
		}
		return 0, err // io.EOF at the end
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
