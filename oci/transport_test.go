package oci_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

const secretPass = "s3cr3t-Passw0rd"

func pushPull(t *testing.T, c *oci.Client, reg *ocitest.Registry) error {
	t.Helper()
	ref := reg.Repo("auth/app") + ":v1"
	if _, err := c.Push(ctx(t), ref, writeTree(t, appFiles), oci.PushOptions{Created: fixedTime}); err != nil {
		return err
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := c.Pull(ctx(t), ref, dst, oci.PullOptions{}); err != nil {
		return err
	}
	diff(t, appFiles, readTree(t, dst))
	return nil
}

func TestAuth(t *testing.T) {
	t.Parallel()
	basic := ocitest.New(t, ocitest.WithBasicAuth("user", secretPass))
	token := ocitest.New(t, ocitest.WithTokenAuth("user", secretPass))
	dockerConfig := func(host, user, pass string) []byte {
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		return fmt.Appendf(nil, `{"auths":{"https://%s/v1/":{"auth":%q}, "other.example.com":{"username":"u","password":"p"}}}`, host, auth)
	}
	tests := []struct {
		name    string
		reg     *ocitest.Registry
		opts    []oci.Option
		wantErr error
	}{
		{"basic", basic, []oci.Option{oci.WithInsecure(true), oci.WithBasicAuth("user", secretPass)}, nil},
		{"basic anonymous", basic, []oci.Option{oci.WithInsecure(true)}, oci.ErrUnauthorized},
		{"basic wrong password", basic, []oci.Option{oci.WithInsecure(true), oci.WithBasicAuth("user", secretPass+"-wrong")}, oci.ErrUnauthorized},
		{"token via basic", token, []oci.Option{oci.WithInsecure(true), oci.WithBasicAuth("user", secretPass)}, nil},
		{"token wrong password", token, []oci.Option{oci.WithInsecure(true), oci.WithBasicAuth("user", secretPass+"-wrong")}, oci.ErrUnauthorized},
		{"bearer token as is", token, []oci.Option{oci.WithInsecure(true), oci.WithBearerToken(token.Token())}, nil},
		{"docker config", basic, []oci.Option{oci.WithInsecure(true), oci.WithDockerConfig(dockerConfig(basic.Host(), "user", secretPass))}, nil},
		{"docker config wrong password", basic, []oci.Option{oci.WithInsecure(true), oci.WithDockerConfig(dockerConfig(basic.Host(), "user", secretPass+"-wrong"))}, oci.ErrUnauthorized},
		{"docker config other host", basic, []oci.Option{oci.WithInsecure(true), oci.WithDockerConfig(dockerConfig("elsewhere.io", "user", secretPass))}, oci.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := oci.NewClient(append(tt.opts, oci.WithRetries(1, time.Millisecond))...)
			if err != nil {
				t.Fatal(err)
			}
			err = pushPull(t, c, tt.reg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("want %v, got %v", tt.wantErr, err)
			}
			if strings.Contains(err.Error(), secretPass) {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestDockerConfigErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"auths":{"h":{"auth":"` + secretPass + `"}}}`,
		`{"auths":{"h":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(secretPass)) + `"}}}`,
		`{"auths": "` + secretPass + `"}`,
		`{"auths":{` + secretPass,
	} {
		_, err := oci.NewClient(oci.WithDockerConfig([]byte(doc)))
		if !errors.Is(err, oci.ErrInvalidDockerConfig) {
			t.Fatalf("%s: want ErrInvalidDockerConfig, got %v", doc, err)
		}
		if strings.Contains(err.Error(), secretPass) {
			t.Fatalf("error leaks the secret: %v", err)
		}
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("user", secretPass))
	c := newClient(t, reg)
	if err := pushPull(t, c, reg); err != nil {
		t.Fatal(err)
	}
	// Without the CA: refused.
	c2, err := oci.NewClient(oci.WithBasicAuth("user", secretPass), oci.WithRetries(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := pushPull(t, c2, reg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate error without the CA, got %v", err)
	}
}

func TestPlainHTTPOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c, err := oci.NewClient(oci.WithRetries(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = pushPull(t, c, reg)
	if !errors.Is(err, oci.ErrInsecure) {
		t.Fatalf("want ErrInsecure over plain http, got %v", err)
	}
	c, err = oci.NewClient(oci.WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := pushPull(t, c, reg); err != nil {
		t.Fatal(err)
	}
}

func TestFlakyRegistryRetries(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t, ocitest.WithFlaky())
	c := newClient(t, reg)
	if err := pushPull(t, c, reg); err != nil {
		t.Fatal(err)
	}
	tags, err := c.List(ctx(t), reg.Repo("auth/app"), oci.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, []string{"v1"}, tags)
	if reg.Requests() < 10 {
		t.Fatalf("only %d requests: flaky mode not exercised", reg.Requests())
	}
}

func TestUserAgentAndTimeout(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var agents []string
	slow := false
	reg := ocitest.New(t, ocitest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			agents = append(agents, r.UserAgent())
			s := slow
			mu.Unlock()
			if s {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}
			next.ServeHTTP(w, r)
		})
	}))
	c := newClient(t, reg)
	if err := pushPull(t, c, reg); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, a := range agents {
		if !strings.HasPrefix(a, "gitopskit-oci/") {
			t.Fatalf("User-Agent %q", a)
		}
	}
	slow = true
	mu.Unlock()
	c = newClient(t, reg, oci.WithTimeout(200*time.Millisecond), oci.WithRetries(1, time.Millisecond))
	_, err := c.Resolve(ctx(t), reg.Repo("auth/app")+":v1")
	if err == nil {
		t.Fatal("slow registry answered within the timeout")
	}
}
