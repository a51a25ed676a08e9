package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/kit/artifact/server"
	"github.com/gitopskit/kit/artifact/storage"
)

func setup(t *testing.T) (*storage.Storage, *httptest.Server, string, string) {
	t.Helper()
	st, err := storage.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Store(context.Background(), storage.Key{Kind: "bucket", Namespace: "ns", Name: "b"}, "data.tar.gz",
		strings.NewReader("0123456789abcdefghij"), "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(st).Handler())
	t.Cleanup(srv.Close)
	return st, srv, "/" + a.Path, string(a.Digest)
}

func do(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServe(t *testing.T) {
	t.Parallel()
	st, srv, p, digest := setup(t)
	etag := `"` + digest + `"`

	resp, body := do(t, "GET", srv.URL+p, nil)
	if resp.StatusCode != 200 || body != "0123456789abcdefghij" || resp.Header.Get("ETag") != etag || resp.Header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do(t, "GET", srv.URL+p, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("If-None-Match: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+p, map[string]string{"If-None-Match": `"sha256:other"`})
	if resp.StatusCode != 200 {
		t.Errorf("If-None-Match other: %d", resp.StatusCode)
	}
	resp, body = do(t, "GET", srv.URL+p, map[string]string{"Range": "bytes=5-9"})
	if resp.StatusCode != http.StatusPartialContent || body != "56789" {
		t.Errorf("Range: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "HEAD", srv.URL+p, nil)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 20 || resp.Header.Get("ETag") != etag {
		t.Errorf("HEAD: %d %q %d", resp.StatusCode, body, resp.ContentLength)
	}
	resp, _ = do(t, "POST", srv.URL+p, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}

	os.MkdirAll(filepath.Join(st.Root(), "bucket/ns/b/dir"), 0o755)
	for _, np := range []string{"/", "/bucket/", "/bucket/ns/b/", "/bucket/ns/b", "/bucket/ns/b/dir", "/bucket/ns/b/.lock",
		"/bucket/ns/b/missing", "/bucket/ns/b/../b/data.tar.gz", "/bucket/ns/b/%2e%2e/b/data.tar.gz", "/bucket//ns/b/data.tar.gz", "/etc/passwd"} {
		resp, _ := do(t, "GET", srv.URL+np, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", np, resp.StatusCode)
		}
	}

	resp, body = do(t, "GET", srv.URL+"/readyz", nil)
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("readyz: %d %q", resp.StatusCode, body)
	}
	os.RemoveAll(st.Root())
	resp, _ = do(t, "GET", srv.URL+"/readyz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz without storage: %d", resp.StatusCode)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	st, _, p, _ := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.New(st, server.WithTimeouts(time.Second, time.Second, time.Second), server.WithShutdownTimeout(5*time.Second)).Serve(ctx, ln)
	}()
	url := "http://" + ln.Addr().String()
	resp, body := do(t, "GET", url+p, nil)
	if resp.StatusCode != 200 || body == "" {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(url + p); err == nil {
		t.Error("server still answering after shutdown")
	}
}
