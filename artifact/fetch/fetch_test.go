package fetch_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/artifact/untar"
)

func fast(opts ...fetch.Option) *fetch.Fetcher {
	return fetch.New(append([]fetch.Option{fetch.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
}

func source(t *testing.T) (*artifacttest.Server, artifact.Artifact) {
	t.Helper()
	srv := artifacttest.NewServer(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "apps"), 0o755)
	os.WriteFile(filepath.Join(dir, "apps", "app.yaml"), []byte("kind: Deployment\n"), 0o644)
	return srv, srv.Add(t, "gitrepository", "default", "app", dir, "main@sha1:0123456789abcdef0123456789abcdef01234567")
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("left behind in %s: %v", dir, ents)
	}
}

func TestFetchAndDownload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a := source(t)
	parent := t.TempDir()
	res, err := fast().Fetch(ctx, a, filepath.Join(parent, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "out", "apps", "app.yaml")); string(b) != "kind: Deployment\n" || res.Entries != 2 {
		t.Errorf("content %q, entries %d", b, res.Entries)
	}
	file := filepath.Join(parent, "a.tar.gz")
	if err := fast().Download(ctx, a, file); err != nil {
		t.Fatal(err)
	}
	if err := artifact.VerifyFile(file, a.Digest); err != nil {
		t.Error(err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 2 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestDigestMismatchLeavesNothing(t *testing.T) {
	t.Parallel()
	_, a := source(t)
	a.Digest = artifact.Digest("sha256:" + strings.Repeat("0", 64))
	parent := t.TempDir()
	_, err := fast().Fetch(context.Background(), a, filepath.Join(parent, "out"))
	var mm *artifact.DigestMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("error = %v, want a DigestMismatchError", err)
	}
	if err := fast().Download(context.Background(), a, filepath.Join(parent, "f")); !errors.As(err, &mm) {
		t.Fatalf("error = %v", err)
	}
	assertEmpty(t, parent)

	a.Digest = ""
	if _, err := fast().Fetch(context.Background(), a, filepath.Join(parent, "out")); !errors.Is(err, artifact.ErrInvalidDigest) {
		t.Errorf("missing digest: %v", err)
	}
}

func TestNotFoundAndHTTPErrors(t *testing.T) {
	t.Parallel()
	srv, a := source(t)
	a.URL = srv.URL() + "/gitrepository/default/app/missing.tar.gz"
	parent := t.TempDir()
	_, err := fast().Fetch(context.Background(), a, filepath.Join(parent, "out"))
	var he *fetch.HTTPError
	if !errors.Is(err, fetch.ErrNotFound) || !errors.As(err, &he) || he.StatusCode != 404 {
		t.Fatalf("error = %v, want ErrNotFound", err)
	}
	assertEmpty(t, parent)

	var calls atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer bad.Close()
	a.URL = bad.URL + "/x"
	if err := fast().Download(context.Background(), a, filepath.Join(parent, "f")); !errors.As(err, &he) || he.StatusCode != 403 {
		t.Fatalf("error = %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("403 retried: %d calls", calls.Load())
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	srv, a := source(t)
	target, _ := url.Parse(a.URL)
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 3:
			// Announce more than is sent, then cut the connection.
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(200)
			w.Write([]byte("partial"))
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		case 4:
			http.Error(w, "bad gateway", http.StatusBadGateway)
		default:
			resp, err := http.Get(srv.URL() + target.Path)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			buf := make([]byte, 1<<16)
			for {
				n, err := resp.Body.Read(buf)
				w.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}
	}))
	defer flaky.Close()
	a.URL = flaky.URL + target.Path
	if _, err := fast().Fetch(context.Background(), a, filepath.Join(t.TempDir(), "out")); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 5 {
		t.Errorf("calls = %d, want 5", calls.Load())
	}
	calls.Store(0)
	parent := t.TempDir()
	_, err := fast(fetch.WithRetries(2)).Fetch(context.Background(), a, filepath.Join(parent, "out"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error = %v, want the third attempt's cut body", err)
	}
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", calls.Load())
	}
	assertEmpty(t, parent)
}

func TestMaxDownloadSize(t *testing.T) {
	t.Parallel()
	_, a := source(t)
	parent := t.TempDir()
	if _, err := fast(fetch.WithMaxDownloadSize(10)).Fetch(context.Background(), a, filepath.Join(parent, "out")); !errors.Is(err, fetch.ErrTooLarge) {
		t.Fatalf("with Content-Length: %v", err)
	}
	chunked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			w.Write([]byte(strings.Repeat("x", 1000)))
			w.(http.Flusher).Flush()
		}
	}))
	defer chunked.Close()
	a.URL = chunked.URL + "/x"
	if err := fast(fetch.WithMaxDownloadSize(5000)).Download(context.Background(), a, filepath.Join(parent, "f")); !errors.Is(err, fetch.ErrTooLarge) {
		t.Fatalf("chunked: %v", err)
	}
	assertEmpty(t, parent)
}

func TestUntarLimitsApply(t *testing.T) {
	t.Parallel()
	_, a := source(t)
	parent := t.TempDir()
	_, err := fast(fetch.WithUntarOptions(untar.Options{MaxEntries: 1})).Fetch(context.Background(), a, filepath.Join(parent, "out"))
	if !errors.Is(err, untar.ErrLimitExceeded) {
		t.Fatalf("error = %v", err)
	}
	assertEmpty(t, parent)
}

func TestCancellation(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte("start"))
		w.(http.Flusher).Flush()
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	a := artifact.Artifact{URL: slow.URL + "/x", Digest: artifact.Digest("sha256:" + strings.Repeat("0", 64))}
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	parent := t.TempDir()
	if _, err := fast().Fetch(ctx, a, filepath.Join(parent, "out")); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v", err)
	}
	assertEmpty(t, parent)
}

func TestHostOverride(t *testing.T) {
	t.Parallel()
	srv, a := source(t)
	real, _ := url.Parse(srv.URL())
	u, _ := url.Parse(a.URL)
	u.Host = "source-controller.flux-system.svc.cluster.local"
	a.URL = u.String()
	if _, err := fast(fetch.WithHostOverride(real.Host)).Fetch(context.Background(), a, filepath.Join(t.TempDir(), "out")); err != nil {
		t.Fatal(err)
	}
}

func TestFetchIntoNonEmptyDirFailsBeforeDownloading(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	dst := t.TempDir()
	os.WriteFile(filepath.Join(dst, "mine"), []byte("keep"), 0o644)
	a := artifact.Artifact{URL: srv.URL + "/x", Digest: artifact.Digest("sha256:" + strings.Repeat("0", 64))}
	if _, err := fast().Fetch(context.Background(), a, dst); !errors.Is(err, untar.ErrDestinationNotEmpty) {
		t.Fatalf("error = %v", err)
	}
	if calls.Load() != 0 {
		t.Errorf("downloaded %d times into a destination that cannot be used", calls.Load())
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "mine")); string(b) != "keep" {
		t.Error("destination changed")
	}
}
