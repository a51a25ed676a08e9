package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/buckettest"
)

func TestObjectChangedSinceListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var tamper atomic.Value // func(w http.ResponseWriter) bool
	srv := buckettest.NewServer(t, buckettest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f, _ := tamper.Load().(func(http.ResponseWriter, *http.Request) bool); f != nil && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/cm.yaml") && f(w, r) {
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	srv.CreateBucket(t, "bkt")
	etag := srv.PutObject(t, "bkt", "cm.yaml", []byte("12345"))
	c := newClient(t, srv)
	fetch := func() error {
		l, err := c.List(ctx, "bkt", bucket.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "out")
		err = c.Fetch(ctx, l, dst, bucket.FetchOptions{})
		if err != nil {
			if _, serr := os.Stat(dst); serr == nil {
				t.Errorf("destination created by a failed fetch")
			}
		}
		return err
	}
	for _, tc := range []struct {
		name string
		f    func(http.ResponseWriter, *http.Request) bool
	}{
		{"rewritten between listing and download", func(w http.ResponseWriter, r *http.Request) bool {
			srv.PutObject(t, "bkt", "cm.yaml", []byte("67890"))
			return false
		}},
		{"deleted between listing and download", func(w http.ResponseWriter, r *http.Request) bool {
			srv.DeleteObject(t, "bkt", "cm.yaml")
			return false
		}},
		{"longer than listed", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("ETag", `"`+etag+`"`)
			w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
			w.Write([]byte("12345 and much more than was listed"))
			return true
		}},
		{"longer than listed, with no length", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("ETag", `"`+etag+`"`)
			w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
			for range 10 {
				w.Write([]byte("12345"))
				w.(http.Flusher).Flush() // chunked: no Content-Length
			}
			return true
		}},
		{"shorter than listed", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("ETag", `"`+etag+`"`)
			w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
			w.Write([]byte("12"))
			return true
		}},
	} {
		tamper.Store((func(http.ResponseWriter, *http.Request) bool)(nil))
		srv.PutObject(t, "bkt", "cm.yaml", []byte("12345"))
		once := sync.OnceValue(func() bool { return true })
		f := tc.f
		tamper.Store(func(w http.ResponseWriter, r *http.Request) bool {
			if !once() {
				return false
			}
			return f(w, r)
		})
		err := fetch()
		if !errors.Is(err, bucket.ErrObjectChanged) {
			t.Errorf("%s: got %v, want ErrObjectChanged", tc.name, err)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t, buckettest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/slow") {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	srv.CreateBucket(t, "slow")
	c := newClient(t, srv)

	_, err := c.List(ctx, "missing", bucket.ListOptions{})
	var e *bucket.Error
	if !errors.Is(err, bucket.ErrBucketNotFound) || !errors.As(err, &e) || e.Code != "NoSuchBucket" || e.StatusCode != 404 {
		t.Errorf("missing bucket: %v", err)
	}
	t.Log(err)

	if _, err := c.List(ctx, "Not_A_Bucket!", bucket.ListOptions{}); !errors.Is(err, bucket.ErrInvalidOptions) {
		t.Errorf("invalid bucket name: %v", err)
	}
	start := time.Now()
	_, err = c.List(ctx, "slow", bucket.ListOptions{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the timeout took %s", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.List(cctx, "slow", bucket.ListOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// A download that hangs ends with Fetch's timeout, leaving nothing.
	slowGets := buckettest.NewServer(t, buckettest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && isObjectPath(r.URL.Path) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	slowGets.CreateBucket(t, "bkt")
	slowGets.PutObject(t, "bkt", "a.yaml", []byte("a"))
	sc := newClient(t, slowGets)
	sl, err := sc.List(ctx, "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	start = time.Now()
	if err := sc.Fetch(ctx, sl, filepath.Join(parent, "out"), bucket.FetchOptions{Timeout: 200 * time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("fetch timeout: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the fetch timeout took %s", d)
	}
	if es := entries(t, parent); len(es) != 0 {
		t.Errorf("a timed-out fetch left %v", es)
	}

	// A listing made by another endpoint's client is refused.
	other := buckettest.NewServer(t)
	other.CreateBucket(t, "bkt")
	l, err := newClient(t, other).List(ctx, "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(ctx, l, filepath.Join(t.TempDir(), "x"), bucket.FetchOptions{}); !errors.Is(err, bucket.ErrInvalidOptions) {
		t.Errorf("listing of another endpoint: %v", err)
	}

	for _, ep := range []string{"", "https://s3.example.com", "s3.example.com/path", "user:pass@s3.example.com", "s3.example.com?x=1", ":9000"} {
		_, err := bucket.New(ep)
		if !errors.Is(err, bucket.ErrInvalidOptions) {
			t.Errorf("endpoint %q: %v", ep, err)
		}
		if strings.Contains(fmt.Sprint(err), "pass") {
			t.Errorf("endpoint %q: error quotes it: %v", ep, err)
		}
	}
}

func TestHostileListings(t *testing.T) {
	t.Parallel()
	srv := buckettest.NewServer(t, buckettest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch q := r.URL.Query(); {
			case q.Get("prefix") == "endless/":
				w.Header().Set("Content-Type", "application/xml")
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><Prefix>endless/</Prefix><Contents><Key>endless/`)
				chunk := []byte(strings.Repeat("a", 64<<10))
				for range (bucket.MaxResponseSize / len(chunk)) * 4 {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			case q.Get("prefix") == "elsewhere/":
				w.Header().Set("Content-Type", "application/xml")
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><Prefix>elsewhere/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>other/x.yaml</Key><ETag>"e"</ETag><Size>1</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>`)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}))
	srv.CreateBucket(t, "bkt")
	c := newClient(t, srv)
	_, err := c.List(context.Background(), "bkt", bucket.ListOptions{Prefix: "endless/"})
	if !errors.Is(err, bucket.ErrLimitExceeded) || !strings.Contains(err.Error(), "response over") {
		t.Errorf("endless listing: %v", err)
	}
	t.Log(err)
	_, err = c.List(context.Background(), "bkt", bucket.ListOptions{Prefix: "elsewhere/"})
	if !errors.Is(err, bucket.ErrUnsafeKey) {
		t.Errorf("key outside the prefix: %v", err)
	}
}
