package bucket_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/buckettest"
)

const (
	accessKey = "AKIAGITOPSKITTEST01"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
	// A session token holds characters that URL and XML encodings change.
	sessionToken = "FwoGZXIvYXdzE+token/with=signs&more+x"
)

// secretsOf are the forms a credential could leak in.
func secretsOf(values ...string) []string {
	var out []string
	for _, v := range values {
		out = append(out, v, url.QueryEscape(v), url.PathEscape(v))
	}
	return out
}

func assertMasked(t *testing.T, what string, err error, values ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	msg := err.Error()
	for _, s := range secretsOf(values...) {
		if strings.Contains(msg, s) {
			t.Errorf("%s: error quotes a credential %q: %s", what, s, msg)
		}
	}
	if strings.Contains(msg, "Signature=") && !strings.Contains(msg, "Signature=***") {
		t.Errorf("%s: error quotes a signature: %s", what, msg)
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t, buckettest.WithCredentials(accessKey, secretKey), buckettest.WithSessionToken(sessionToken))
	srv.CreateBucket(t, "bkt")
	srv.PutObjects(t, "bkt", map[string]string{"a b/c+d.yaml": "x", "é.yaml": "y", ".sourceignore": "*.md\n"})
	base := []bucket.Option{bucket.WithInsecure(true), bucket.WithRegion(srv.Region())}

	c, err := bucket.New(srv.Endpoint(), append(base, bucket.WithStaticCredentials(accessKey, secretKey, sessionToken))...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.List(ctx, "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(ctx, l, filepath.Join(t.TempDir(), "out"), bucket.FetchOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		opts []bucket.Option
		code string
	}{
		{"anonymous", nil, "AccessDenied"},
		{"unknown access key", []bucket.Option{bucket.WithStaticCredentials("AKIAUNKNOWNKEY000000", secretKey, sessionToken)}, "InvalidAccessKeyId"},
		{"wrong secret key", []bucket.Option{bucket.WithStaticCredentials(accessKey, "not-the-secret-key-at-all", sessionToken)}, "SignatureDoesNotMatch"},
		{"no session token", []bucket.Option{bucket.WithStaticCredentials(accessKey, secretKey, "")}, "InvalidToken"},
		{"wrong session token", []bucket.Option{bucket.WithStaticCredentials(accessKey, secretKey, "another+token/=")}, "InvalidToken"},
	} {
		c, err := bucket.New(srv.Endpoint(), append(base, tc.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.List(ctx, "bkt", bucket.ListOptions{})
		var e *bucket.Error
		if !errors.Is(err, bucket.ErrAccessDenied) || !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%s: got %v, want ErrAccessDenied with %s", tc.name, err, tc.code)
			continue
		}
		assertMasked(t, tc.name, err, accessKey, secretKey, sessionToken, "not-the-secret-key-at-all", "another+token/=")
		t.Logf("%s: %v", tc.name, err)
	}
}

// TestEchoedRequestsAreMasked: a server that quotes each request back
// (Authorization with the access key and signature, the session token) in
// its error.
func TestEchoedRequestsAreMasked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t, buckettest.WithCredentials(accessKey, secretKey), buckettest.WithSessionToken(sessionToken), buckettest.WithEcho())
	srv.CreateBucket(t, "bkt")
	c := newClient(t, srv)
	_, err := c.List(ctx, "bkt", bucket.ListOptions{})
	var e *bucket.Error
	if !errors.As(err, &e) || e.Code != "InvalidRequest" {
		t.Fatalf("echo: %v", err)
	}
	// The echo did reach the client: the unmasked message would hold them.
	if !strings.Contains(e.Message, "Authorization") || !strings.Contains(e.Message, "X-Amz-Security-Token: ***") {
		t.Fatalf("the server did not echo the request: %s", e.Message)
	}
	assertMasked(t, "listing", err, accessKey, secretKey, sessionToken)
	t.Log(err)

	// Downloads: an endpoint that lists, then echoes object requests.
	echoGets := buckettest.NewServer(t, buckettest.WithCredentials(accessKey, secretKey), buckettest.WithSessionToken(sessionToken),
		buckettest.WithMiddleware(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && isObjectPath(r.URL.Path) {
					w.Header().Set("Content-Type", "application/xml")
					w.WriteHeader(http.StatusForbidden)
					msg := fmt.Sprintf("%s %s?X-Amz-Credential=%s%%2F20260101&X-Amz-Signature=abcdef0123 token=%s user "+accessKey,
						r.Header.Get("Authorization"), r.URL.Path, accessKey, url.QueryEscape(r.Header.Get("X-Amz-Security-Token")))
					fmt.Fprintf(w, "<Error><Code>AccessDenied</Code><Message>%s</Message><RequestId>%s</RequestId></Error>",
						html.EscapeString(msg), html.EscapeString(r.Header.Get("X-Amz-Security-Token")))
					return
				}
				next.ServeHTTP(w, r)
			})
		}))
	echoGets.CreateBucket(t, "bkt")
	echoGets.PutObject(t, "bkt", "cm.yaml", []byte("x"))
	c = newClient(t, echoGets)
	l, err := c.List(ctx, "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Fetch(ctx, l, filepath.Join(t.TempDir(), "out"), bucket.FetchOptions{})
	if !errors.Is(err, bucket.ErrAccessDenied) {
		t.Fatalf("echoed download: %v", err)
	}
	assertMasked(t, "download", err, accessKey, secretKey, sessionToken)
	if !errors.As(err, &e) || !strings.Contains(e.Message, "X-Amz-Signature=***") || e.RequestID != "***" {
		t.Errorf("the echo did not reach the client masked: %+v", e)
	}
	t.Log(err)
}

// echoTransport fails every request with an error quoting its
// Authorization header, its token and a presigned URL.
type echoTransport struct{}

func (echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("dial refused for %s token %s, retry at https://h/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F20260101%%2Fus-east-1&X-Amz-Signature=0123abcd&X-Amz-Security-Token=%s",
		r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token"), accessKey, url.QueryEscape(sessionToken))
}

func TestTransportErrorsAreMasked(t *testing.T) {
	t.Parallel()
	c, err := bucket.New("127.0.0.1:1", bucket.WithInsecure(true), bucket.WithRegion("us-east-1"), bucket.WithRetries(1),
		bucket.WithStaticCredentials(accessKey, secretKey, sessionToken), bucket.WithTransport(echoTransport{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), "bkt", bucket.ListOptions{})
	assertMasked(t, "transport", err, accessKey, secretKey, sessionToken, "0123abcd")
	if !strings.Contains(err.Error(), "dial refused") {
		t.Errorf("the transport's error is lost: %v", err)
	}
	t.Log(err)
}

func TestTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t, buckettest.WithTLS())
	srv.CreateBucket(t, "bkt")
	srv.PutObject(t, "bkt", "a.yaml", []byte("a"))
	list := func(opts ...bucket.Option) error {
		c, err := bucket.New(srv.Endpoint(), append([]bucket.Option{bucket.WithRegion(srv.Region()), bucket.WithRetries(1)}, opts...)...)
		if err != nil {
			return err
		}
		_, err = c.List(ctx, "bkt", bucket.ListOptions{})
		return err
	}
	if err := list(bucket.WithRootCAs(srv.CertPool())); err != nil {
		t.Errorf("trusted CA: %v", err)
	}
	err := list()
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("system roots: got %v, want an unknown authority", err)
	}
	if err := list(bucket.WithInsecure(true)); err == nil {
		t.Error("plain HTTP to an HTTPS server succeeded")
	}
	plain := buckettest.NewServer(t)
	plain.CreateBucket(t, "bkt")
	c, _ := bucket.New(plain.Endpoint(), bucket.WithRegion(plain.Region()), bucket.WithRetries(1))
	if _, err := c.List(ctx, "bkt", bucket.ListOptions{}); err == nil {
		t.Error("HTTPS to a plain HTTP server succeeded without WithInsecure")
	} else {
		t.Logf("plain HTTP server, no WithInsecure: %v", err)
	}

	mtls := buckettest.NewServer(t, buckettest.WithClientCertificates())
	mtls.CreateBucket(t, "bkt")
	c, _ = bucket.New(mtls.Endpoint(), bucket.WithRegion(mtls.Region()), bucket.WithRetries(1), bucket.WithRootCAs(mtls.CertPool()))
	if _, err := c.List(ctx, "bkt", bucket.ListOptions{}); err == nil {
		t.Error("mTLS server accepted a client without a certificate")
	}
	c, _ = bucket.New(mtls.Endpoint(), bucket.WithRegion(mtls.Region()), bucket.WithRetries(1), bucket.WithRootCAs(mtls.CertPool()),
		bucket.WithClientCertificate(mtls.ClientCertificate()))
	if _, err := c.List(ctx, "bkt", bucket.ListOptions{}); err != nil {
		t.Errorf("mTLS with the client certificate: %v", err)
	}
}

// forwardProxy is an HTTP proxy for plain HTTP targets that requires Basic
// credentials; with echo it refuses every request quoting its headers.
func forwardProxy(t *testing.T, user, pass string, echo bool) (*url.URL, *atomic.Int32) {
	var n atomic.Int32
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.Out.URL = r.In.URL
		r.Out.Header.Del("Proxy-Authorization")
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if echo || r.Header.Get("Proxy-Authorization") != want {
			w.WriteHeader(http.StatusProxyAuthRequired)
			io.WriteString(w, "<Error><Code>ProxyRefused</Code><Message>refused "+r.Header.Get("Proxy-Authorization")+" for "+r.URL.String()+"</Message></Error>")
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword(user, pass)
	return u, &n
}

func TestProxy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	srv.PutObject(t, "bkt", "a.yaml", []byte("a"))
	proxy, n := forwardProxy(t, "proxyuser", "proxy-password-1", false)
	c := newClient(t, srv, bucket.WithProxy(proxy))
	l, err := c.List(ctx, "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(ctx, l, filepath.Join(t.TempDir(), "out"), bucket.FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 || len(srv.Requests()) != 2 {
		t.Errorf("%d requests through the proxy, %d at the server; want 2 and 2", n.Load(), len(srv.Requests()))
	}
	for _, r := range srv.Requests() {
		if r.Header.Get("Proxy-Authorization") != "" {
			t.Error("proxy credentials reached the endpoint")
		}
	}

	echo, _ := forwardProxy(t, "proxyuser", "proxy-password-2", true)
	c = newClient(t, srv, bucket.WithProxy(echo), bucket.WithStaticCredentials(accessKey, secretKey, sessionToken))
	_, err = c.List(ctx, "bkt", bucket.ListOptions{})
	assertMasked(t, "echoing proxy", err, "proxy-password-2", base64.StdEncoding.EncodeToString([]byte("proxyuser:proxy-password-2")), accessKey, secretKey, sessionToken)
	t.Log(err)
}
