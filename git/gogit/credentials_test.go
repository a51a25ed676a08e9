package gogit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

// echo writes back everything a request carries, in the forms servers and
// proxies use: a raw dump (request line with query, headers, body), Go's
// header map, JSON, and the URL.
func echo(r *http.Request) string {
	dump, _ := httputil.DumpRequest(r, true)
	j, _ := json.Marshal(r.Header)
	return fmt.Sprintf("you sent:\n%s\nheaders %v\njson %s\nurl %s\nuser %v", dump, r.Header, j, r.URL.String(), r.URL.User)
}

// echoServer answers every request with status and the echo as its body;
// with status 200 it serves upstream's advertisement and answers a fetch
// or push with the echo in an ERR packet.
func echoServer(t *testing.T, status int, upstream *gittest.Server, tls bool) *httptest.Server {
	t.Helper()
	var rp *httputil.ReverseProxy
	if upstream != nil {
		target, _ := url.Parse(upstream.HTTPURL(""))
		rp = httputil.NewSingleHostReverseProxy(target)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
			http.Error(w, echo(r), status)
			return
		}
		if r.Method == http.MethodGet {
			r.URL.RawQuery = "service=" + r.URL.Query().Get("service")
			r.Header.Del("Authorization")
			rp.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		_, _ = io.WriteString(w, pkt("ERR "+echo(r)))
	})
	var s *httptest.Server
	if tls {
		s = httptest.NewTLSServer(h)
	} else {
		s = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func serverCA(s *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// leaks lists the forms of a credential that must never appear.
func leaks(user, password string, others ...string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s, url.QueryEscape(s), url.PathEscape(s))
		}
	}
	add(password)
	if len(user) >= 8 || password == "" {
		add(user)
	}
	if user != "" || password != "" {
		basic := []byte(user + ":" + password)
		out = append(out, user+":"+password, base64.StdEncoding.EncodeToString(basic), base64.RawStdEncoding.EncodeToString(basic),
			base64.URLEncoding.EncodeToString(basic), base64.RawURLEncoding.EncodeToString(basic))
	}
	for _, o := range others {
		add(o)
	}
	return out
}

// TestCredentialsNeverEchoed runs Resolve, Clone, Export and Push against
// servers that echo the whole request back in their error (HTTP bodies of
// 401, 403, 404 and 500, and an ERR packet), with every kind of
// credential: no form of it — raw, URL-escaped, base64 as in the Basic
// header, user:password — survives in the error.
func TestCredentialsNeverEchoed(t *testing.T) {
	t.Parallel()
	up := gittest.NewServer(t)
	up.InitRepository("app.git").Commit("main", "x", map[string]string{"a": "b"})
	token := "ghp_0123456789abcdefghijABCDEFGHIJ012345"
	type setup struct {
		name   string
		auth   git.AuthOptions
		path   string // appended to the server URL: userinfo is spliced in by user
		user   string // URL userinfo
		leaks  []string
		header string // what must be masked after "Authorization: "
		// noEcho: the request never reaches the echo as a git request (a
		// query or fragment in a remote URL breaks smart HTTP, in git too),
		// so only the URL in the message is checked.
		noEcho bool
	}
	setups := []setup{
		{name: "basic", auth: git.AuthOptions{Username: "alice", Password: "correct-horse-battery-staple"}, leaks: leaks("alice", "correct-horse-battery-staple"), header: "Basic ***"},
		{name: "short password", auth: git.AuthOptions{Username: "bob", Password: "pw"}, leaks: leaks("bob", "pw"), header: "Basic ***"},
		{name: "token as user name", auth: git.AuthOptions{Username: token}, leaks: leaks(token, ""), header: "Basic ***"},
		{name: "token as user name, x-oauth-basic", auth: git.AuthOptions{Username: token, Password: "x-oauth-basic"}, leaks: leaks(token, "x-oauth-basic"), header: "Basic ***"},
		{name: "bearer token", auth: git.AuthOptions{BearerToken: "tok-0123456789-secret"}, leaks: leaks("", "", "tok-0123456789-secret"), header: "Bearer ***"},
		{name: "short bearer token", auth: git.AuthOptions{BearerToken: "ab"}, leaks: []string{"Bearer ab"}, header: "Bearer ***"},
		{name: "userinfo in the URL", user: "carol:url-s3cret-pw", leaks: leaks("carol", "url-s3cret-pw"), header: "Basic ***"},
		{name: "token in the query", path: "?private_token=glpat-ABCDEFGHIJ0123456789", leaks: leaks("", "", "glpat-ABCDEFGHIJ0123456789"), noEcho: true},
		{name: "access_token in the query", path: "?access_token=short", leaks: leaks("", "", "short"), noEcho: true},
		{name: "token in the fragment", path: "#frag-s3cret-0123456789", leaks: leaks("", "", "frag-s3cret-0123456789"), noEcho: true},
	}
	for _, status := range []int{401, 403, 404, 500, 200} {
		srv := echoServer(t, status, up, true)
		for _, s := range setups {
			t.Run(fmt.Sprintf("%d/%s", status, s.name), func(t *testing.T) {
				t.Parallel()
				u := srv.URL + "/app.git" + s.path
				if s.user != "" {
					u = strings.Replace(u, "://", "://"+s.user+"@", 1)
				}
				auth := s.auth
				auth.CA = serverCA(srv)
				cache, err := gogit.NewCache(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				c, err := gogit.New(u, gogit.WithAuth(auth), gogit.WithCache(cache))
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				work := filepath.Join(t.TempDir(), "work")
				if err := c.Init(ctx, work, "main"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Commit(ctx, work, gogit.CommitOptions{Author: git.Signature{Name: "a", Email: "a@b"}, Message: "m", Files: map[string][]byte{"f": []byte("x")}}); err != nil {
					t.Fatal(err)
				}
				calls := map[string]func() error{
					"Resolve": func() error { _, err := c.Resolve(ctx, git.Reference{}); return err },
					"Clone": func() error {
						_, err := c.Clone(ctx, filepath.Join(t.TempDir(), "c"), gogit.CloneOptions{})
						return err
					},
					"Export": func() error {
						_, err := c.Export(ctx, filepath.Join(t.TempDir(), "e"), gogit.CloneOptions{})
						return err
					},
					"Push": func() error {
						return c.Push(ctx, work, gogit.PushOptions{RefSpecs: []string{"refs/heads/main:refs/heads/echo"}})
					},
				}
				if status == http.StatusOK {
					delete(calls, "Resolve") // served by upstream, nothing to echo
				}
				for name, call := range calls {
					err := call()
					if err == nil {
						t.Fatalf("%s against an echoing server succeeded", name)
					}
					msg := err.Error()
					if !s.noEcho && !strings.Contains(msg, "you sent") && status != 500 {
						// (go-git reports a 500 by its status alone.)
						t.Errorf("%s error does not hold the echo, so it tests nothing:\n%s", name, msg)
					}
					for _, leak := range s.leaks {
						if strings.Contains(msg, leak) {
							t.Errorf("%s error holds %q:\n%s", name, leak, msg)
						}
					}
					if s.header != "" && strings.Contains(msg, "Authorization: ") && !strings.Contains(msg, "Authorization: "+s.header) {
						t.Errorf("%s error holds an unmasked Authorization header:\n%s", name, msg)
					}
				}
			})
		}
	}
}

// TestProxyCredentialsNeverEchoed: a proxy that echoes the request (with
// its Proxy-Authorization header) back in its refusal.
func TestProxyCredentialsNeverEchoed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusProxyAuthRequired, http.StatusForbidden, http.StatusBadGateway} {
		proxy := echoServer(t, status, nil, false)
		pu := strings.Replace(proxy.URL, "://", "://puser:proxy-s3cret-pw@", 1)
		c, err := gogit.New("http://git.example.invalid/app.git", gogit.WithAuth(git.AuthOptions{ProxyURL: pu, Username: "alice", Password: "behind-the-proxy", AllowInsecureHTTP: true}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Resolve(context.Background(), git.Reference{})
		if err == nil {
			t.Fatal("Resolve through a refusing proxy succeeded")
		}
		for _, leak := range append(leaks("puser", "proxy-s3cret-pw"), leaks("alice", "behind-the-proxy")...) {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("status %d: error holds %q:\n%s", status, leak, err)
			}
		}
	}
}
