package helmtest

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server is a chart repository served over HTTP or HTTPS from a directory
// on loopback. It is closed when the test ends.
type Server struct {
	dir string
	srv *httptest.Server
	cfg serverConfig

	clientCert tls.Certificate

	mu   sync.Mutex
	reqs []Request
}

// Request is a request the server received, as it arrived.
type Request struct {
	Method string
	// Path is the URL path, RawQuery its query.
	Path, RawQuery string
	// Header holds the request headers, Authorization included.
	Header http.Header
}

type serverConfig struct {
	tls        bool
	mtls       bool
	user, pass string
	wrap       func(http.Handler) http.Handler
}

// Option configures a Server.
type Option func(*serverConfig)

// WithTLS serves HTTPS with a certificate for 127.0.0.1 that CertPool
// trusts.
func WithTLS() Option { return func(c *serverConfig) { c.tls = true } }

// WithClientCertificates serves HTTPS (as WithTLS) and requires a client
// certificate issued by the server's own client CA: ClientCertificate
// returns one, TLSConfig a client configuration presenting it.
func WithClientCertificates() Option {
	return func(c *serverConfig) { c.tls, c.mtls = true, true }
}

// WithBasicAuth requires HTTP basic authentication with user and pass on
// every request; others get 401.
func WithBasicAuth(user, pass string) Option {
	return func(c *serverConfig) { c.user, c.pass = user, pass }
}

// WithMiddleware wraps the file server (inside authentication), e.g. to
// redirect, delay or corrupt responses.
func WithMiddleware(wrap func(http.Handler) http.Handler) Option {
	return func(c *serverConfig) { c.wrap = wrap }
}

// NewServer serves the files of dir (index.yaml, packages, .prov files) on
// 127.0.0.1.
func NewServer(t testing.TB, dir string, opts ...Option) *Server {
	t.Helper()
	s := &Server{dir: dir}
	for _, o := range opts {
		o(&s.cfg)
	}
	var h http.Handler = http.FileServer(http.Dir(dir))
	if s.cfg.wrap != nil {
		h = s.cfg.wrap(h)
	}
	h = s.authenticate(h)
	h = s.record(h)
	s.srv = httptest.NewUnstartedServer(h)
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if s.cfg.mtls {
		s.clientCert, s.srv.TLS = newClientCA(t)
	}
	if s.cfg.tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the repository URL (http://127.0.0.1:port or https://...), the
// directory index.yaml is in.
func (s *Server) URL() string { return s.srv.URL }

// Dir is the directory served.
func (s *Server) Dir() string { return s.dir }

// CertPool trusts the server's certificate (nil without WithTLS).
func (s *Server) CertPool() *x509.CertPool {
	if !s.cfg.tls {
		return nil
	}
	p := x509.NewCertPool()
	p.AddCert(s.srv.Certificate())
	return p
}

// ClientCertificate returns a client certificate the server accepts under
// WithClientCertificates (the zero value otherwise).
func (s *Server) ClientCertificate() tls.Certificate { return s.clientCert }

// TLSConfig returns a client TLS configuration trusting the server and,
// under WithClientCertificates, presenting ClientCertificate (nil without
// TLS).
func (s *Server) TLSConfig() *tls.Config {
	if !s.cfg.tls {
		return nil
	}
	c := &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
	if s.cfg.mtls {
		c.Certificates = []tls.Certificate{s.clientCert}
	}
	return c
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// AddChart packages the chart directory src into the served directory and
// regenerates index.yaml (relative URLs). It returns the package's path.
func (s *Server) AddChart(t testing.TB, src string) string {
	t.Helper()
	p := PackageChart(t, src, s.dir)
	GenerateIndex(t, s.dir, "")
	return p
}

// AddSignedChart is AddChart with a provenance file signed by signer.
func (s *Server) AddSignedChart(t testing.TB, src string, signer *Signer) string {
	t.Helper()
	p := PackageSignedChart(t, src, s.dir, signer)
	GenerateIndex(t, s.dir, "")
	return p
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.user == "" && s.cfg.pass == "" {
		return next
	}
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || !eq(u, s.cfg.user) || !eq(p, s.cfg.pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="helmtest"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
