package buckettest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/gitopskit/kit/artifact/bucket"
)

// DefaultRegion is the region of a Server without WithRegion.
const DefaultRegion = "us-east-1"

// Server is an S3-compatible server on a loopback port, closed when the
// test ends.
type Server struct {
	srv     *httptest.Server
	backend *s3mem.Backend
	cfg     config

	clientCert            tls.Certificate
	clientCertPEM, keyPEM []byte

	mu   sync.Mutex
	reqs []Request
}

// Request is a request the server received, as it arrived (refused ones
// included).
type Request struct {
	// Op is the S3 operation: "ListObjects", "GetObject", "HeadObject",
	// "PutObject", "DeleteObject", "GetBucketLocation", "ListBuckets" or
	// "Other".
	Op     string
	Method string
	// Bucket and Key are read from the path (path-style addressing).
	Bucket, Key string
	// Path is the URL path, RawQuery its query.
	Path, RawQuery string
	// Header holds the request headers, Authorization included.
	Header http.Header
}

type config struct {
	tls, mtls                          bool
	accessKey, secretKey, sessionToken string
	region                             string
	echo                               bool
	wrap                               func(http.Handler) http.Handler
}

// Option configures a Server.
type Option func(*config)

// WithTLS serves HTTPS with a certificate for 127.0.0.1 that CertPool
// trusts.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithClientCertificates serves HTTPS (as WithTLS) and requires a client
// certificate issued by the server's own client CA: ClientCertificate and
// ClientCertificatePEM return one.
func WithClientCertificates() Option { return func(c *config) { c.tls, c.mtls = true, true } }

// WithCredentials requires every request to be signed with AWS Signature
// Version 4 by accessKey and secretKey for the server's region. Refused
// requests get S3's answers: AccessDenied (unsigned), InvalidAccessKeyId,
// SignatureDoesNotMatch, AuthorizationHeaderMalformed (another region).
func WithCredentials(accessKey, secretKey string) Option {
	return func(c *config) { c.accessKey, c.secretKey = accessKey, secretKey }
}

// WithSessionToken also requires the session token of temporary
// credentials (X-Amz-Security-Token); another one gets InvalidToken. It
// needs WithCredentials.
func WithSessionToken(token string) Option { return func(c *config) { c.sessionToken = token } }

// WithRegion sets the region signatures must be made for (default
// DefaultRegion).
func WithRegion(region string) Option { return func(c *config) { c.region = region } }

// WithEcho makes the server hostile: every request, once authenticated,
// fails with a 400 InvalidRequest error whose message quotes the request
// back — its line, its query and every header, Authorization and
// X-Amz-Security-Token included — as a misconfigured or malicious
// endpoint might. A client must keep its credentials out of the error it
// reports.
func WithEcho() Option { return func(c *config) { c.echo = true } }

// WithMiddleware wraps the S3 handler (inside authentication and
// recording), e.g. to delay, fail or tamper with responses.
func WithMiddleware(wrap func(http.Handler) http.Handler) Option {
	return func(c *config) { c.wrap = wrap }
}

// NewServer starts a server on 127.0.0.1 — gofakes3 with its in-memory
// backend — and closes it when t ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{backend: s3mem.New(), cfg: config{region: DefaultRegion}}
	for _, o := range opts {
		o(&s.cfg)
	}
	var h http.Handler = gofakes3.New(s.backend, gofakes3.WithLogger(discard{})).Server()
	if s.cfg.wrap != nil {
		h = s.cfg.wrap(h)
	}
	if s.cfg.echo {
		h = echo()
	}
	h = s.authenticate(h)
	h = s.record(h)
	s.srv = httptest.NewUnstartedServer(h)
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshake noise of refused clients
	if s.cfg.mtls {
		var err error
		if s.clientCert, s.clientCertPEM, s.keyPEM, s.srv.TLS, err = newClientCA(); err != nil {
			t.Fatalf("buckettest: %v", err)
		}
	}
	if s.cfg.tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

// Endpoint returns host:port, what bucket.New takes.
func (s *Server) Endpoint() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.srv.URL, "http://"), "https://")
}

// URL returns the base URL (http:// or https://).
func (s *Server) URL() string { return s.srv.URL }

// Region returns the region signatures are checked for.
func (s *Server) Region() string { return s.cfg.region }

// CertPool returns a pool trusting the server's certificate (nil without
// TLS).
func (s *Server) CertPool() *x509.CertPool {
	if !s.cfg.tls {
		return nil
	}
	p := x509.NewCertPool()
	p.AddCert(s.srv.Certificate())
	return p
}

// CACertPEM returns the server certificate's PEM, what a ca.crt holds (nil
// without TLS).
func (s *Server) CACertPEM() []byte {
	if !s.cfg.tls {
		return nil
	}
	return pemEncode("CERTIFICATE", s.srv.Certificate().Raw)
}

// ClientCertificate returns a client certificate the server accepts under
// WithClientCertificates (the zero value otherwise).
func (s *Server) ClientCertificate() tls.Certificate { return s.clientCert }

// ClientCertificatePEM returns ClientCertificate as PEM: what tls.crt and
// tls.key hold (nil otherwise).
func (s *Server) ClientCertificatePEM() (cert, key []byte) { return s.clientCertPEM, s.keyPEM }

// ClientOptions returns the bucket client options to reach this server:
// plain HTTP or its CA (and client certificate), its credentials and
// region, and fast retries.
func (s *Server) ClientOptions() []bucket.Option {
	opts := []bucket.Option{bucket.WithRegion(s.cfg.region), bucket.WithRetries(2)}
	if s.cfg.tls {
		opts = append(opts, bucket.WithRootCAs(s.CertPool()))
	} else {
		opts = append(opts, bucket.WithInsecure(true))
	}
	if s.cfg.mtls {
		opts = append(opts, bucket.WithClientCertificate(s.clientCert))
	}
	if s.cfg.accessKey != "" {
		opts = append(opts, bucket.WithStaticCredentials(s.cfg.accessKey, s.cfg.secretKey, s.cfg.sessionToken))
	}
	return opts
}

// CreateBucket creates a bucket.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.backend.CreateBucket(name); err != nil {
		t.Fatalf("buckettest: create bucket %q: %v", name, err)
	}
}

// PutObject stores data under key, straight into the backend (no request
// is made or recorded, and any key is accepted, hostile ones included),
// and returns its ETag without quotes.
func (s *Server) PutObject(t testing.TB, bucketName, key string, data []byte) string {
	t.Helper()
	meta := map[string]string{
		// What gofakes3 records for an upload, and serves back.
		"Last-Modified": time.Now().UTC().Format(http.TimeFormat),
		"Content-Type":  "application/octet-stream",
	}
	if _, err := s.backend.PutObject(bucketName, key, meta, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("buckettest: put %s/%q: %v", bucketName, key, err)
	}
	obj, err := s.backend.HeadObject(bucketName, key)
	if err != nil {
		t.Fatalf("buckettest: head %s/%q: %v", bucketName, key, err)
	}
	obj.Contents.Close()
	return hex.EncodeToString(obj.Hash)
}

// PutObjects stores every key → content of files, as PutObject.
func (s *Server) PutObjects(t testing.TB, bucketName string, files map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.PutObject(t, bucketName, k, []byte(files[k]))
	}
}

// DeleteObject removes key.
func (s *Server) DeleteObject(t testing.TB, bucketName, key string) {
	t.Helper()
	if _, err := s.backend.DeleteObject(bucketName, key); err != nil {
		t.Fatalf("buckettest: delete %s/%q: %v", bucketName, key, err)
	}
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count returns how many requests of operation op were received so far.
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.reqs {
		if r.Op == op {
			n++
		}
	}
	return n
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()}
		req.Bucket, req.Key, _ = strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		req.Op = operation(r.Method, req.Bucket, req.Key, r.URL.Query())
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func operation(method, bucketName, key string, q map[string][]string) string {
	_, location := q["location"]
	switch {
	case bucketName == "" && method == http.MethodGet:
		return "ListBuckets"
	case key == "" && method == http.MethodGet && location:
		return "GetBucketLocation"
	case key == "" && method == http.MethodGet:
		return "ListObjects"
	case key != "" && method == http.MethodGet:
		return "GetObject"
	case key != "" && method == http.MethodHead:
		return "HeadObject"
	case key != "" && method == http.MethodPut:
		return "PutObject"
	case key != "" && method == http.MethodDelete:
		return "DeleteObject"
	}
	return "Other"
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.accessKey == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := s.verifySigV4(r); f != nil {
			writeError(w, r, f.status, f.code, f.message, f.region)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// echo answers every request with an error quoting it.
func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", r.Method, r.URL.RequestURI())
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(&b, " %s: %s;", k, strings.Join(r.Header[k], ", "))
		}
		writeError(w, r, http.StatusBadRequest, "InvalidRequest", "cannot serve "+b.String(), "")
	})
}

// s3Error is S3's error document.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	Region    string   `xml:"Region,omitempty"`
	RequestID string   `xml:"RequestId"`
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, message, region string) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	}
	body, _ := xml.Marshal(s3Error{Code: code, Message: message, Resource: r.URL.Path, Region: region, RequestID: "buckettest"})
	w.Header().Set("Content-Type", "application/xml")
	if region != "" {
		w.Header().Set("X-Amz-Bucket-Region", region)
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append([]byte(xml.Header), body...))
	}
}

type discard struct{}

func (discard) Print(gofakes3.LogLevel, ...any) {}
