package gogit_test

import (
	"context"
	"errors"
	"github.com/google/go-cmp/cmp"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

func TestHTTPAuth(t *testing.T) {
	t.Parallel()
	basic := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth("alice", "correct-horse"))
	bearer := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBearerToken("tok-123456"))
	mtls := gittest.NewServer(t, gittest.WithClientCertificates())
	plain := gittest.NewServer(t, gittest.WithBasicAuth("alice", "correct-horse"))
	for _, s := range []*gittest.Server{basic, bearer, mtls, plain} {
		s.InitRepository("app.git").Commit("main", "init", map[string]string{"a": "b"})
	}
	cert, key := mtls.ClientCertificate()
	cases := []struct {
		name    string
		url     string
		auth    git.AuthOptions
		newErr  error // from gogit.New
		wantErr error // from Clone
	}{
		{name: "basic", url: basic.HTTPURL("app.git"), auth: git.AuthOptions{Username: "alice", Password: "correct-horse", CA: basic.CA()}},
		{name: "wrong password", url: basic.HTTPURL("app.git"), auth: git.AuthOptions{Username: "alice", Password: "wrong-password", CA: basic.CA()}, wantErr: git.ErrAuthentication},
		{name: "no credentials", url: basic.HTTPURL("app.git"), auth: git.AuthOptions{CA: basic.CA()}, wantErr: git.ErrAuthentication},
		{name: "unknown CA", url: basic.HTTPURL("app.git"), auth: git.AuthOptions{Username: "alice", Password: "correct-horse"}, wantErr: errAny},
		{name: "bearer", url: bearer.HTTPURL("app.git"), auth: git.AuthOptions{BearerToken: "tok-123456", CA: bearer.CA()}},
		{name: "wrong bearer", url: bearer.HTTPURL("app.git"), auth: git.AuthOptions{BearerToken: "tok-bad-999", CA: bearer.CA()}, wantErr: git.ErrAuthentication},
		{name: "basic and bearer", url: bearer.HTTPURL("app.git"), auth: git.AuthOptions{Username: "a", Password: "b", BearerToken: "c"}, newErr: git.ErrInvalidOptions},
		{name: "client certificate", url: mtls.HTTPURL("app.git"), auth: git.AuthOptions{CA: mtls.CA(), Cert: cert, Key: key}},
		{name: "missing client certificate", url: mtls.HTTPURL("app.git"), auth: git.AuthOptions{CA: mtls.CA()}, wantErr: errAny},
		{name: "cert without key", url: mtls.HTTPURL("app.git"), auth: git.AuthOptions{Cert: cert}, newErr: git.ErrInvalidOptions},
		{name: "credentials over http refused", url: plain.HTTPURL("app.git"), auth: git.AuthOptions{Username: "alice", Password: "correct-horse"}, newErr: git.ErrInvalidOptions},
		{name: "credentials over http allowed", url: plain.HTTPURL("app.git"), auth: git.AuthOptions{Username: "alice", Password: "correct-horse", AllowInsecureHTTP: true}},
		{name: "file URLs refused", url: "file:///etc", newErr: git.ErrInvalidOptions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := gogit.New(tc.url, gogit.WithAuth(tc.auth))
			if tc.newErr != nil || err != nil {
				if !errors.Is(err, tc.newErr) {
					t.Fatalf("New err = %v, want %v", err, tc.newErr)
				}
				return
			}
			_, err = c.Clone(context.Background(), filepath.Join(t.TempDir(), "src"), gogit.CloneOptions{})
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Clone: %v", err)
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("Clone err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				assertNoSecret(t, err, tc.auth.Password, tc.auth.BearerToken)
			}
		})
	}
}

var errAny = errors.New("any error")

func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range secrets {
			if s != "" && strings.Contains(e.Error(), s) {
				t.Fatalf("error leaks a credential: %v", e)
			}
		}
	}
}

func TestCredentialsInURLNotInErrors(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithBasicAuth("alice", "right-one"))
	srv.InitRepository("app.git").Commit("main", "init", map[string]string{"a": "b"})
	url := strings.Replace(srv.HTTPURL("missing.git"), "://", "://alice:sup3r-secret-pw@", 1)
	c, err := gogit.New(url, gogit.WithAuth(git.AuthOptions{AllowInsecureHTTP: true}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Clone(context.Background(), t.TempDir(), gogit.CloneOptions{Reference: git.Reference{Branch: "main"}})
	if err == nil {
		t.Fatal("want an error")
	}
	assertNoSecret(t, err, "sup3r-secret-pw", "alice:")
}

func TestHTTPProxy(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	head := srv.InitRepository("app.git").Commit("main", "init", map[string]string{"a": "b"})
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
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
	t.Cleanup(proxy.Close)
	c, err := gogit.New(srv.HTTPURL("app.git"), gogit.WithAuth(git.AuthOptions{ProxyURL: proxy.URL}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Clone(context.Background(), filepath.Join(t.TempDir(), "src"), gogit.CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit.Hash != head || proxied.Load() == 0 {
		t.Fatalf("hash %s, proxied requests %d", res.Commit.Hash, proxied.Load())
	}
}

func TestAuthFromSecret(t *testing.T) {
	t.Parallel()
	got := git.AuthFromSecret(map[string][]byte{
		"username": []byte("u"), "password": []byte("p"), "bearerToken": []byte("t"),
		"identity": []byte("id"), "known_hosts": []byte("kh"), "ca.crt": []byte("ca"),
		"tls.crt": []byte("crt"), "tls.key": []byte("key"), "other": []byte("x"),
	})
	want := git.AuthOptions{Username: "u", Password: "p", BearerToken: "t", Identity: []byte("id"),
		KnownHosts: []byte("kh"), CA: []byte("ca"), Cert: []byte("crt"), Key: []byte("key")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("AuthFromSecret (-want +got):\n%s", diff)
	}
	if s := got.String(); strings.Contains(s, "p") && strings.Contains(s, "=p") {
		t.Fatalf("String leaks: %s", s)
	}
}
