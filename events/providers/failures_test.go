package providers_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/providers"
)

// configFor is a working configuration of typ against base, with every
// credential the type reads set to a known secret, and the secret webhook
// path where the address may carry one.
func configFor(typ, base string) providers.Config {
	c := providers.Config{Token: secret, Headers: map[string]string{"X-Api-Key": "h3ader-s3cret"}}
	switch typ {
	case providers.TypeGitHub, providers.TypeGitHubDispatch, providers.TypeGitea:
		c.Address = base + "/org/app"
	case providers.TypeGitLab:
		c.Address = base + "/group/app"
	case providers.TypeBitbucket:
		c.Address = base + "/ws/app"
		c.Token = "bob:" + password
	case providers.TypeBitbucketServer:
		c.Address = base + "/scm/PROJ/app.git"
	case providers.TypeAzureDevOps:
		c.Address = base + "/org/proj/_git/app"
	case providers.TypeSentry:
		c.Address = strings.Replace(base, "://", "://"+secret+"@", 1) + "/42"
	case providers.TypeTelegram, providers.TypeDatadog, providers.TypePagerDuty:
		c.Address = base
		c.Channel = "chat-1"
	case providers.TypeZulip:
		c.Address = base
		c.Channel = "ops/gitops"
		c.Username = "bot@example.org"
		c.Password = password
	case providers.TypeAlertmanager, providers.TypeGrafana:
		c.Address = base + hookPath
		c.Token = ""
		c.Username, c.Password = "u", password
	default:
		c.Address = base + hookPath
		c.Channel = "room-1"
	}
	return c
}

func TestEveryTypeIsRegistered(t *testing.T) {
	t.Parallel()
	types := providers.Default().Types()
	if len(types) != 26 {
		t.Errorf("%d types: %v", len(types), types)
	}
	for _, typ := range types {
		if _, err := providers.Default().New(typ, configFor(typ, "http://127.0.0.1:1")); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	if _, err := providers.Default().New("carrier-pigeon", providers.Config{}); !errors.Is(err, providers.ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
}

// TestFailureAnswersCarryNoCredential posts through every provider to a
// server that echoes the whole request (URL, headers, body) in its error
// answer: a 5xx is a retryable *StatusError, a 4xx a permanent one, and no
// credential survives into either message.
func TestFailureAnswersCarryNoCredential(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusBadRequest, http.StatusUnauthorized} {
		srv := echoServer(t, status)
		for _, typ := range providers.Default().Types() {
			cfg := configFor(typ, srv.URL)
			p, err := providers.Default().New(typ, cfg)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			n := failure()
			if typ == providers.TypePagerDuty {
				n = resolved()
			}
			err = p.Post(t.Context(), n)
			var se *providers.StatusError
			if !errors.As(err, &se) || se.Code != status {
				t.Errorf("%s %d: err = %v, want a StatusError", typ, status, err)
				continue
			}
			if l := leaks(err.Error(), cfg); len(l) > 0 {
				t.Errorf("%s %d: error leaks %q: %s", typ, status, l, err)
			}
			if !strings.Contains(err.Error(), "***") {
				t.Errorf("%s %d: nothing was masked, was the echo read? %s", typ, status, err)
			}
			retryable := status >= 500 || status == http.StatusTooManyRequests
			if errors.Is(err, events.ErrPermanent) == retryable {
				t.Errorf("%s %d: permanent = %v", typ, status, errors.Is(err, events.ErrPermanent))
			}
		}
	}
}

// TestTransportErrorsCarryNoCredential: a refused connection, a timeout
// and a bad certificate name the origin only.
func TestTransportErrorsCarryNoCredential(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	slow := eventstest.NewProviderSink(t)
	slow.SetDelay(time.Minute)
	tlsSink := eventstest.NewProviderSink(t, eventstest.WithTLS())
	for _, typ := range providers.Default().Types() {
		for _, tc := range []struct {
			name      string
			base      string
			timeout   time.Duration
			permanent bool
		}{
			{"refused", dead, 0, false},
			{"timeout", slow.URL(), 50 * time.Millisecond, false},
			{"unknown CA", tlsSink.URL(), 0, true},
		} {
			cfg := configFor(typ, tc.base)
			cfg.Timeout = tc.timeout
			p, err := providers.Default().New(typ, cfg)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			err = p.Post(t.Context(), failure())
			if err == nil {
				t.Errorf("%s %s: no error", typ, tc.name)
				continue
			}
			if l := leaks(err.Error(), cfg); len(l) > 0 {
				t.Errorf("%s %s: error leaks %q: %s", typ, tc.name, l, err)
			}
			if errors.Is(err, events.ErrPermanent) != tc.permanent {
				t.Errorf("%s %s: permanent = %v: %v", typ, tc.name, !tc.permanent, err)
			}
			var uerr *url.Error
			if errors.As(err, &uerr) {
				t.Errorf("%s %s: the error unwraps to a *url.Error, which quotes the URL", typ, tc.name)
			}
		}
	}
}

// TestRedirectsAreNotFollowed: a service answering with a redirect to
// another host must not receive a second request carrying the
// credentials.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	t.Cleanup(thief.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, thief.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	for _, typ := range providers.Default().Types() {
		p, _ := providers.Default().New(typ, configFor(typ, redirector.URL))
		err := p.Post(t.Context(), failure())
		if err == nil {
			t.Errorf("%s: a redirect counted as delivered", typ)
		}
		mustPermanent(t, err)
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

// TestTLSAndProxy: Config.TLS trusts a private CA; Config.Proxy sends the
// request through a proxy.
func TestTLSAndProxy(t *testing.T) {
	t.Parallel()
	sink := eventstest.NewProviderSink(t, eventstest.WithTLS())
	pool := x509.NewCertPool()
	pool.AddCert(sink.Certificate())
	p, err := providers.NewGeneric(providers.Config{Address: sink.URL() + "/hook", TLS: tlsConfig(pool)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Post(t.Context(), failure()); err != nil {
		t.Fatalf("with the CA: %v", err)
	}

	var proxied atomic.Value
	target := eventstest.NewProviderSink(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Store(r.URL.String()) // a proxy sees the absolute URL
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	}))
	t.Cleanup(proxy.Close)
	pu, _ := url.Parse(proxy.URL)
	sp, _ := providers.NewSlack(providers.Config{Address: target.URL() + "/hook", Proxy: pu})
	if err := sp.Post(t.Context(), failure()); err != nil {
		t.Fatal(err)
	}
	if got, _ := proxied.Load().(string); got != target.URL()+"/hook" {
		t.Errorf("proxy saw %q", got)
	}
	if len(target.Requests()) != 1 {
		t.Errorf("target got %d requests", len(target.Requests()))
	}
}

func TestContextCancelStopsAPost(t *testing.T) {
	t.Parallel()
	slow := eventstest.NewProviderSink(t)
	slow.SetDelay(time.Minute)
	p, _ := providers.NewGeneric(providers.Config{Address: slow.URL()})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Post(ctx, failure()) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Post ignored its context")
	}
}

func TestAddressNeverQuotedInConfigErrors(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"ftp://x/" + secret, "http://[::1" + secret, "/relative/" + secret, "https:///" + secret} {
		_, err := providers.NewSlack(providers.Config{Address: addr})
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%q: %v", addr, err)
		}
	}
}
