package buckettest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/buckettest"
)

func TestServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t, buckettest.WithTLS(), buckettest.WithCredentials("AKIDTEST", "secret"), buckettest.WithSessionToken("tok"))
	srv.CreateBucket(t, "configs")
	// Keys whose canonical form differs from their raw form.
	odd := []string{"a b.yaml", "plus+sign.yaml", "eq=uals~tilde.yaml", "ünï/cödé.yaml", "semi;colon,comma.yaml", "paren(s)!*'.yaml"}
	etags := map[string]string{}
	for _, k := range odd {
		etags[k] = srv.PutObject(t, "configs", k, []byte("content of "+k))
	}
	c, err := bucket.New(srv.Endpoint(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	// A prefix with characters to encode in the query.
	l, err := c.List(ctx, "configs", bucket.ListOptions{Prefix: "ünï/"})
	if err != nil || len(l.Objects) != 1 {
		t.Fatalf("prefix listing: %v %+v", err, l)
	}
	l, err = c.List(ctx, "configs", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Objects) != len(odd) {
		t.Fatalf("listed %d objects, want %d", len(l.Objects), len(odd))
	}
	for _, o := range l.Objects {
		if etags[o.Key] != o.ETag {
			t.Errorf("%q: listed ETag %q, PutObject returned %q", o.Key, o.ETag, etags[o.Key])
		}
	}
	srv.ResetRequests()
	if err := c.Fetch(ctx, l, filepath.Join(t.TempDir(), "out"), bucket.FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("GetObject"); n != len(odd) {
		t.Errorf("Count(GetObject) = %d, want %d", n, len(odd))
	}
	for _, r := range srv.Requests() {
		if r.Bucket != "configs" || etags[r.Key] == "" || r.Header.Get("Authorization") == "" {
			t.Errorf("recorded %+v", r)
		}
	}

	// The PEM forms are what a Secret would hold.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertPEM()) {
		t.Error("CACertPEM is no certificate")
	}
	c2, _ := bucket.New(srv.Endpoint(), bucket.WithRootCAs(pool), bucket.WithRegion(srv.Region()), bucket.WithStaticCredentials("AKIDTEST", "secret", "tok"))
	if _, err := c2.List(ctx, "configs", bucket.ListOptions{}); err != nil {
		t.Errorf("with the CA from CACertPEM: %v", err)
	}
}

func TestClientCertificates(t *testing.T) {
	t.Parallel()
	srv := buckettest.NewServer(t, buckettest.WithClientCertificates())
	srv.CreateBucket(t, "configs")
	certPEM, keyPEM := srv.ClientCertificatePEM()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := bucket.New(srv.Endpoint(), bucket.WithRootCAs(srv.CertPool()), bucket.WithRegion(srv.Region()), bucket.WithClientCertificate(cert))
	if _, err := c.List(context.Background(), "configs", bucket.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEchoAndAuthentication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t, buckettest.WithCredentials("AKIDTEST", "secret"), buckettest.WithEcho())
	srv.CreateBucket(t, "configs")
	c, _ := bucket.New(srv.Endpoint(), srv.ClientOptions()...)
	_, err := c.List(ctx, "configs", bucket.ListOptions{})
	var e *bucket.Error
	if !errors.As(err, &e) || e.Code != "InvalidRequest" || !strings.Contains(e.Message, "X-Amz-Date") {
		t.Fatalf("echo: %v", err)
	}
	// Refused requests are recorded, and never reach the echo.
	anon, _ := bucket.New(srv.Endpoint(), bucket.WithInsecure(true), bucket.WithRegion(srv.Region()))
	_, err = anon.List(ctx, "configs", bucket.ListOptions{})
	if !errors.As(err, &e) || e.Code != "AccessDenied" || e.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous: %v", err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests recorded, want 2", n)
	}
}
