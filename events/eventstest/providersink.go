package eventstest

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Request is one HTTP request a ProviderSink received.
type Request struct {
	Method   string
	Path     string // unescaped, as in URL.Path
	RawPath  string // escaped form when it differs (URL.EscapedPath)
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Reply is what a ProviderSink answers.
type Reply struct {
	Status int
	Body   string
	Header http.Header
}

// ProviderSink is an HTTP server standing in for a notification service: it
// records every request a provider sends (what the provider would have
// sent) and answers with scripted replies, so a test can check the request
// exactly and make the service fail. The default reply is 200 with the body
// {"ok":true,"code":0}, which the chat APIs that answer in JSON read as
// success.
type ProviderSink struct {
	srv      *httptest.Server
	requests log[Request]
	closed   chan struct{}

	mu    sync.Mutex
	def   Reply
	next  []Reply
	delay time.Duration
}

// SinkOption configures NewProviderSink.
type SinkOption func(*sinkOptions)

type sinkOptions struct{ tls bool }

// WithTLS serves HTTPS with a test certificate; see Certificate.
func WithTLS() SinkOption { return func(o *sinkOptions) { o.tls = true } }

// NewProviderSink starts a ProviderSink on loopback, closed when the test ends.
func NewProviderSink(t testing.TB, opts ...SinkOption) *ProviderSink {
	var o sinkOptions
	for _, opt := range opts {
		opt(&o)
	}
	p := &ProviderSink{
		closed: make(chan struct{}),
		def:    Reply{Status: http.StatusOK, Body: `{"ok":true,"code":0}`},
	}
	if o.tls {
		p.srv = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	} else {
		p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	}
	t.Cleanup(p.Close)
	return p
}

// URL is the server's base address.
func (p *ProviderSink) URL() string { return p.srv.URL }

// Certificate is the server's certificate when it serves TLS, else nil.
func (p *ProviderSink) Certificate() *x509.Certificate { return p.srv.Certificate() }

// Close stops the server.
func (p *ProviderSink) Close() {
	select {
	case <-p.closed:
		return
	default:
		close(p.closed)
	}
	p.srv.CloseClientConnections()
	p.srv.Close()
}

// Reply sets the answer to every request without a ReplyNext queued.
func (p *ProviderSink) Reply(status int, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.def = Reply{Status: status, Body: body}
}

// ReplyNext queues one-shot replies, used in order before the default.
func (p *ProviderSink) ReplyNext(replies ...Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = append(p.next, replies...)
}

// SetDelay makes every request wait d before it is answered (or until the
// client gives up).
func (p *ProviderSink) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Requests returns the requests received so far, in order.
func (p *ProviderSink) Requests() []Request { return p.requests.snapshot() }

// Wait blocks until at least n requests arrived or ctx is done.
func (p *ProviderSink) Wait(ctx context.Context, n int) ([]Request, error) {
	return p.requests.wait(ctx, n)
}

func (p *ProviderSink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	req := Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
	}
	if ep := r.URL.EscapedPath(); ep != r.URL.Path {
		req.RawPath = ep
	}
	p.mu.Lock()
	reply := p.def
	if len(p.next) > 0 {
		reply, p.next = p.next[0], p.next[1:]
	}
	delay := p.delay
	p.mu.Unlock()
	p.requests.add(req)
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-p.closed:
			return
		}
	}
	for k, vs := range reply.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if reply.Body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply.Body)
}
