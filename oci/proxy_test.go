package oci_test

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

// forwardProxy is an HTTP forward proxy demanding Basic proxy credentials
// user:pass. A request without them gets 407 with what it sent echoed in
// the body, as a hostile or careless proxy would.
func forwardProxy(t *testing.T, user, pass string) (u *url.URL, served *atomic.Int64) {
	t.Helper()
	served = new(atomic.Int64)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	direct := &http.Transport{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Proxy-Authorization"); got != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy authentication required, got "+got, http.StatusProxyAuthRequired)
			return
		}
		served.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
		resp, err := direct.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(direct.CloseIdleConnections)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u, served
}

// WithProxy sends every request through the proxy with its credentials; a
// wrong proxy password is refused without appearing in the error, even
// though the proxy echoes what it got.
func TestWithProxy(t *testing.T) {
	t.Parallel()
	const proxyPass = "pr0xy-Passw0rd"
	reg := ocitest.New(t)
	proxy, served := forwardProxy(t, "squid", proxyPass)

	withCreds := *proxy
	withCreds.User = url.UserPassword("squid", proxyPass)
	c := newClient(t, reg, oci.WithProxy(&withCreds))
	if err := pushPull(t, c, reg); err != nil {
		t.Fatal(err)
	}
	if served.Load() == 0 {
		t.Fatal("nothing went through the proxy")
	}

	wrong := *proxy
	wrong.User = url.UserPassword("squid", proxyPass+"-wrong")
	c = newClient(t, reg, oci.WithProxy(&wrong), oci.WithRetries(1, time.Millisecond))
	_, err := c.Resolve(ctx(t), reg.Repo("auth/app")+":v1")
	if err == nil {
		t.Fatal("a wrong proxy password was accepted")
	}
	for _, leak := range []string{proxyPass, base64.StdEncoding.EncodeToString([]byte("squid:" + proxyPass + "-wrong"))} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error leaks the proxy credentials: %v", err)
		}
	}
	if errors.Is(err, oci.ErrNotFound) {
		t.Errorf("a refused proxy reads as a missing tag: %v", err)
	}
	t.Logf("wrong proxy password: %v", err)
}
