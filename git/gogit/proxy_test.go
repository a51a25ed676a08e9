package gogit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// forwardProxy is an HTTP proxy: plain requests are forwarded, CONNECT
// opens a tunnel (as for SSH). It counts both.
type forwardProxy struct {
	URL              string
	plain, tunnels   atomic.Int64
	wantUser, wantPw string
}

func newForwardProxy(t *testing.T, user, pw string) *forwardProxy {
	t.Helper()
	p := &forwardProxy{wantUser: user, wantPw: pw}
	var wg sync.WaitGroup
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.wantUser != "" {
			if u, pw, ok := parseProxyAuth(r); !ok || u != p.wantUser || pw != p.wantPw {
				w.WriteHeader(http.StatusProxyAuthRequired)
				return
			}
		}
		if r.Method == http.MethodConnect {
			p.tunnels.Add(1)
			target, err := net.Dial("tcp", r.Host)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				target.Close()
				return
			}
			_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(target, conn); target.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(conn, target); conn.Close() }()
			return
		}
		p.plain.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
		resp, err := http.DefaultTransport.RoundTrip(out)
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
	t.Cleanup(func() { s.Close(); wg.Wait() })
	p.URL = s.URL
	return p
}

func parseProxyAuth(r *http.Request) (string, string, bool) {
	h := r.Header.Get("Proxy-Authorization")
	if h == "" {
		return "", "", false
	}
	req := &http.Request{Header: http.Header{"Authorization": {h}}}
	return req.BasicAuth()
}

// TestExportThroughProxies: Export (the kept cache) reaches an HTTP remote
// through an HTTP proxy and an SSH remote through a CONNECT tunnel, with
// proxy credentials, both the first time and for an update.
func TestExportThroughProxies(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithSSH())
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	id, pub := identity(t, key, "")
	srv.AuthorizeKey(pub)
	proxy := newForwardProxy(t, "puser", "proxy-pw")
	proxyURL := "http://puser:proxy-pw@" + proxy.URL[len("http://"):]
	remotes := map[string]git.AuthOptions{
		srv.HTTPURL("http.git"): {ProxyURL: proxyURL},
		srv.SSHURL("ssh.git"):   {ProxyURL: proxyURL, Identity: id, KnownHosts: srv.KnownHosts()},
	}
	for u, auth := range remotes {
		repo := srv.InitRepository(filepath.Base(u))
		repo.Commit("main", "init", map[string]string{"a.txt": "1"})
		cache, err := gogit.NewCache(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c, err := gogit.New(u, gogit.WithAuth(auth), gogit.WithCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "out")
		for i, content := range []string{"1", "2"} {
			if i > 0 {
				repo.Commit("main", "next", map[string]string{"a.txt": content})
			}
			if _, err := c.Export(context.Background(), dir, gogit.CloneOptions{}); err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			if got := readFile(t, dir, "a.txt"); got != content {
				t.Fatalf("%s: a.txt = %q, want %q", u, got, content)
			}
		}
	}
	if proxy.plain.Load() == 0 || proxy.tunnels.Load() == 0 {
		t.Fatalf("proxied %d requests and %d tunnels; both transports should use the proxy", proxy.plain.Load(), proxy.tunnels.Load())
	}
}
