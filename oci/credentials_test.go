package oci_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/gitopskit/kit/oci"
)

// echoRegistry is a registry that refuses every request past the version
// check with a distribution-API error quoting the request back: its
// Authorization header and URL, raw, escaped and inside JSON. With bearer,
// it asks for a token exchange and issues a token of its own.
func echoRegistry(t *testing.T, bearer bool, issued string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch {
		case r.URL.Path == "/token":
			_ = json.NewEncoder(w).Encode(map[string]string{"token": issued, "access_token": issued})
			return
		case r.URL.Path == "/v2/" && auth == "":
			if bearer {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="echo"`, srv.URL))
			} else {
				w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
			}
			w.WriteHeader(http.StatusUnauthorized)
			return
		case r.URL.Path == "/v2/":
			return
		}
		echo := fmt.Sprintf("you sent %s %s with Authorization %q (%s)", r.Method, r.URL, auth, url.QueryEscape(auth))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
			"code": "DENIED", "message": echo, "detail": map[string]string{"authorization": auth, "url": r.URL.String()},
		}}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestCredentialsNeverInErrors: a registry that echoes the request back
// learns nothing through our errors, whatever the credential and its form:
// basic auth (raw, base64 user:password, a token as the user name, a short
// password), docker config's "auth" and username/password, a bearer
// token, a token the registry issued, and an authenticator we were given.
func TestCredentialsNeverInErrors(t *testing.T) {
	t.Parallel()
	const (
		user   = "robot$ci"
		secret = "hunter2-Secret/Value"
		issued = "issued.TOKEN-abc"
	)
	dockerConfig := func(entry map[string]string) []byte {
		return fmt.Appendf(nil, `{"auths":{"%%s":%s}}`, mustJSON(t, entry))
	}
	cases := []struct {
		name    string
		bearer  bool
		opts    func(host string) []oci.Option
		secrets []string
	}{
		{"basic", false, func(string) []oci.Option { return []oci.Option{oci.WithBasicAuth(user, secret)} },
			[]string{secret, basicOf(user, secret)}},
		{"basic exchanged for a token", true, func(string) []oci.Option { return []oci.Option{oci.WithBasicAuth(user, secret)} },
			[]string{secret, basicOf(user, secret), issued}},
		{"short password", false, func(string) []oci.Option { return []oci.Option{oci.WithBasicAuth(user, "pw")} },
			[]string{basicOf(user, "pw"), user + ":pw"}},
		{"token as user name", false, func(string) []oci.Option { return []oci.Option{oci.WithBasicAuth(secret, "")} },
			[]string{secret, basicOf(secret, "")}},
		{"bearer", false, func(string) []oci.Option { return []oci.Option{oci.WithBearerToken(secret)} },
			[]string{secret}},
		{"docker config auth", false, func(host string) []oci.Option {
			cfg := dockerConfig(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))})
			return []oci.Option{oci.WithDockerConfig([]byte(fmt.Sprintf(string(cfg), host)))}
		}, []string{secret, basicOf(user, secret)}},
		{"docker config username and password", true, func(host string) []oci.Option {
			cfg := dockerConfig(map[string]string{"username": user, "password": secret})
			return []oci.Option{oci.WithDockerConfig([]byte(fmt.Sprintf(string(cfg), host)))}
		}, []string{secret, basicOf(user, secret), issued}},
		{"authenticator", false, func(string) []oci.Option {
			return []oci.Option{oci.WithAuth(authn.FromConfig(authn.AuthConfig{Username: user, Password: secret}))}
		}, []string{secret, basicOf(user, secret)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := echoRegistry(t, tc.bearer, issued)
			host := strings.TrimPrefix(srv.URL, "http://")
			opts := append(tc.opts(host), oci.WithInsecure(true), oci.WithRetries(1, time.Millisecond))
			c, err := oci.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			ref := host + "/app:v1"
			calls := map[string]error{}
			_, calls["Pull"] = c.Pull(ctx, ref, filepath.Join(t.TempDir(), "out"), oci.PullOptions{})
			_, calls["List"] = c.List(ctx, host+"/app", oci.ListOptions{})
			_, calls["Resolve"] = c.Resolve(ctx, ref)
			_, calls["Push"] = c.Push(ctx, ref, writeTree(t, map[string]string{"a.yaml": "a: 1\n"}), oci.PushOptions{})
			for op, err := range calls {
				if err == nil {
					t.Fatalf("%s succeeded against a registry that refuses everything", op)
				}
				msg := err.Error()
				for _, s := range tc.secrets {
					for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
						if strings.Contains(msg, form) {
							t.Errorf("%s error carries %q:\n%s", op, form, msg)
						}
					}
				}
			}
		})
	}
}

func basicOf(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
