package source_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// proxy is an HTTP forward proxy demanding Basic proxy credentials. A
// request without the right ones gets 407 with the Proxy-Authorization it
// sent echoed in the body, as a careless proxy would.
type proxy struct {
	url    string
	served atomic.Int64 // requests forwarded
}

func newProxy(t *testing.T, user, pass string) *proxy {
	t.Helper()
	p := &proxy{}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	direct := &http.Transport{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Proxy-Authorization"); got != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy authentication required, got "+got, http.StatusProxyAuthRequired)
			return
		}
		p.served.Add(1)
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
	p.url = srv.URL
	return p
}
