package ocitest

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitopskit/kit/oci"
)

// Registry is a running in-process registry. One from New is closed when
// the test ends; one from Start by Close.
type Registry struct {
	srv       *httptest.Server
	cfg       config
	token     string
	requests  atomic.Int64
	closeOnce sync.Once
}

type config struct {
	tls       bool
	auth      string // "", "basic", "token"
	user      string
	pass      string
	flaky     bool
	blobDir   string
	referrers bool
	wrap      func(http.Handler) http.Handler
}

// Option configures a Registry.
type Option func(*config)

// WithTLS serves HTTPS with a certificate for 127.0.0.1 signed by a
// generated CA (see Registry.CertPool).
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithBasicAuth requires HTTP basic authentication with user and pass,
// challenging with WWW-Authenticate: Basic.
func WithBasicAuth(user, pass string) Option {
	return func(c *config) { c.auth, c.user, c.pass = "basic", user, pass }
}

// WithTokenAuth requires a bearer token, challenging with
// WWW-Authenticate: Bearer and serving a token endpoint at /token that
// hands out Registry.Token in exchange for user and pass (basic auth).
func WithTokenAuth(user, pass string) Option {
	return func(c *config) { c.auth, c.user, c.pass = "token", user, pass }
}

// WithFlaky fails every other request (the 1st, 3rd, ...) with 503 Service
// Unavailable, to exercise retries.
func WithFlaky() Option { return func(c *config) { c.flaky = true } }

// WithBlobDir stores blobs in files under dir instead of memory (uploads in
// progress are still held in memory by the registry).
func WithBlobDir(dir string) Option { return func(c *config) { c.blobDir = dir } }

// WithReferrersAPI enables the OCI 1.1 referrers endpoint. Without it,
// clients fall back to the sha256-<hex> referrers tag.
func WithReferrersAPI() Option { return func(c *config) { c.referrers = true } }

// WithMiddleware wraps the registry's handler (after authentication), e.g.
// to tamper with responses.
func WithMiddleware(wrap func(http.Handler) http.Handler) Option {
	return func(c *config) { c.wrap = wrap }
}

// New starts a registry on 127.0.0.1 and closes it when t ends.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r, err := Start(opts...)
	if err != nil {
		t.Fatalf("ocitest: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// Start starts a registry on 127.0.0.1 outside a test, for programs such
// as demos and local development tools that want a throwaway registry; it
// takes the same options as New. Stop it with Close.
//
// A test should use New instead. The helpers that take a testing.TB
// (Sign, PushSignature, AttachBundle and the keyless ones) work on a
// Registry from Start too, given a test's; PushImage needs none.
func Start(opts ...Option) (*Registry, error) {
	r := &Registry{}
	for _, o := range opts {
		o(&r.cfg)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	r.token = hex.EncodeToString(b[:])
	ropts := []registry.Option{registry.Logger(log.New(io.Discard, "", 0))}
	if r.cfg.blobDir != "" {
		ropts = append(ropts, registry.WithBlobHandler(registry.NewDiskBlobHandler(r.cfg.blobDir)))
	}
	if r.cfg.referrers {
		ropts = append(ropts, registry.WithReferrersSupport(true))
	}
	var h http.Handler = registry.New(ropts...)
	if r.cfg.wrap != nil {
		h = r.cfg.wrap(h)
	}
	h = r.authenticate(h)
	h = r.count(h)
	// httptest.NewUnstartedServer panics when it cannot listen; Start says
	// so in its error instead.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.srv = &httptest.Server{Listener: ln, Config: &http.Server{
		Handler:  h,
		ErrorLog: log.New(io.Discard, "", 0), // TLS handshake noise of refused clients
	}}
	if r.cfg.tls {
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	return r, nil
}

// Close stops the registry and waits for the requests in flight to end;
// what it stored is gone (files under WithBlobDir stay). Calling it again
// does nothing.
func (r *Registry) Close() { r.closeOnce.Do(r.srv.Close) }

// Host returns host:port of the registry.
func (r *Registry) Host() string {
	return strings.TrimPrefix(strings.TrimPrefix(r.srv.URL, "http://"), "https://")
}

// URL returns the base URL (http:// or https://).
func (r *Registry) URL() string { return r.srv.URL }

// Repo returns the repository reference host:port/name.
func (r *Registry) Repo(name string) string { return r.Host() + "/" + name }

// Token returns the bearer token the registry accepts under WithTokenAuth.
func (r *Registry) Token() string { return r.token }

// Requests returns the number of requests served so far.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// CertPool returns a pool trusting the registry's certificate (nil without
// WithTLS).
func (r *Registry) CertPool() *x509.CertPool {
	if !r.cfg.tls {
		return nil
	}
	p := x509.NewCertPool()
	p.AddCert(r.srv.Certificate())
	return p
}

// HTTPClient returns an HTTP client that trusts the registry.
func (r *Registry) HTTPClient() *http.Client { return r.srv.Client() }

// ClientOptions returns the oci client options to reach this registry:
// insecure for HTTP, the CA for HTTPS, the credentials when auth is on, and
// fast retries.
func (r *Registry) ClientOptions() []oci.Option {
	var opts []oci.Option
	if r.cfg.tls {
		opts = append(opts, oci.WithRootCAs(r.CertPool()))
	} else {
		opts = append(opts, oci.WithInsecure(true))
	}
	if r.cfg.auth != "" {
		opts = append(opts, oci.WithBasicAuth(r.cfg.user, r.cfg.pass))
	}
	return append(opts, oci.WithRetries(5, 10*time.Millisecond))
}

// remoteOptions are go-containerregistry options for the helpers.
func (r *Registry) remoteOptions() []remote.Option {
	opts := []remote.Option{remote.WithTransport(r.srv.Client().Transport)}
	if r.cfg.auth != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.cfg.user, Password: r.cfg.pass}))
	}
	return opts
}

func (r *Registry) nameOptions() []name.Option {
	if r.cfg.tls {
		return nil
	}
	return []name.Option{name.Insecure}
}

func (r *Registry) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.requests.Add(1)
		if r.cfg.flaky && n%2 == 1 {
			if req.Body != nil {
				_, _ = io.Copy(io.Discard, req.Body)
			}
			http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"flaky"}]}`, http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func (r *Registry) authenticate(next http.Handler) http.Handler {
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch r.cfg.auth {
		case "":
			next.ServeHTTP(w, req)
		case "basic":
			if u, p, ok := req.BasicAuth(); ok && eq(u, r.cfg.user) && eq(p, r.cfg.pass) {
				next.ServeHTTP(w, req)
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="ocitest"`)
			unauthorized(w)
		case "token":
			if req.URL.Path == "/token" {
				u, p, ok := req.BasicAuth()
				if !ok || !eq(u, r.cfg.user) || !eq(p, r.cfg.pass) {
					unauthorized(w)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{"token": r.token, "access_token": r.token, "expires_in": 300})
				return
			}
			if auth := req.Header.Get("Authorization"); eq(auth, "Bearer "+r.token) {
				next.ServeHTTP(w, req)
				return
			}
			scope := ""
			if parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/v2/"), "/"); len(parts) > 2 {
				repo := strings.Join(parts[:len(parts)-2], "/")
				scope = fmt.Sprintf(`,scope="repository:%s:pull,push"`, repo)
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="ocitest"%s`, r.srv.URL, scope))
			unauthorized(w)
		}
	})
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}
