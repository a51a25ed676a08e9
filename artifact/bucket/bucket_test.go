package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/buckettest"
)

// newClient returns a client of srv.
func newClient(t testing.TB, srv *buckettest.Server, opts ...bucket.Option) *bucket.Client {
	t.Helper()
	c, err := bucket.New(srv.Endpoint(), append(srv.ClientOptions(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readTree returns the files below dir, by slash path, and fails on
// anything but files and directories.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// isObjectPath reports whether a path-style URL path names an object.
func isObjectPath(p string) bool {
	_, key, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return key != ""
}

func keys(l *bucket.Listing) []string {
	var out []string
	for _, o := range l.Objects {
		out = append(out, o.Key)
	}
	return out
}

// entries lists the names in dir.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestSyncAndUnchanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "configs")
	files := map[string]string{
		"apps/prod/cm.yaml":         "kind: ConfigMap\n",
		"apps/prod/deep/a/b/c.yaml": "kind: Secret\n",
		"apps/prod/with space.yaml": "x: y\n",
		"apps/prod/ünïcode.yaml":    "z: 1\n",
		"apps/prod/.sourceignore":   "*.md\n",
		"apps/prod/README.md":       "ignored by .sourceignore\n",
		"apps/prod/logo.png":        "ignored by default\n",
		"apps/prod/":                "", // a folder marker
		"apps/staging/cm.yaml":      "outside the prefix\n",
	}
	srv.PutObjects(t, "configs", files)
	c := newClient(t, srv)

	l, err := c.List(ctx, "configs", bucket.ListOptions{Prefix: "apps/prod/"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apps/prod/.sourceignore", "apps/prod/cm.yaml", "apps/prod/deep/a/b/c.yaml", "apps/prod/with space.yaml", "apps/prod/ünïcode.yaml"}
	if diff := cmp.Diff(want, keys(l)); diff != "" {
		t.Fatalf("selection (-want +got):\n%s", diff)
	}
	if l.Ignored != 2 || l.Bucket != "configs" || l.Prefix != "apps/prod/" {
		t.Errorf("listing %+v", l)
	}
	var size int64
	for _, k := range want {
		size += int64(len(files[k]))
	}
	if l.Size != size {
		t.Errorf("size %d, want %d", l.Size, size)
	}
	if err := l.Revision.Validate(); err != nil || l.Revision.Algorithm() != artifact.SHA256 {
		t.Errorf("revision %q: %v", l.Revision, err)
	}
	// One listing and the .sourceignore: nothing selected was downloaded.
	if n, g := srv.Count("ListObjects"), srv.Count("GetObject"); n != 1 || g != 1 || len(srv.Requests()) != 2 {
		t.Errorf("List made %d listings, %d downloads, %d requests; want 1, 1 (.sourceignore), 2", n, g, len(srv.Requests()))
	}

	dst := filepath.Join(t.TempDir(), "out")
	srv.ResetRequests()
	if err := c.Fetch(ctx, l, dst, bucket.FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, dst)
	wantTree := map[string]string{}
	for _, k := range want {
		wantTree[k] = files[k]
	}
	if diff := cmp.Diff(wantTree, got); diff != "" {
		t.Fatalf("tree (-want +got):\n%s", diff)
	}
	// The .sourceignore List read is not downloaded again.
	if g := srv.Count("GetObject"); g != len(want)-1 {
		t.Errorf("Fetch made %d downloads, want %d", g, len(want)-1)
	}
	fi, _ := os.Stat(filepath.Join(dst, "apps/prod/cm.yaml"))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v", fi.Mode())
	}
	if es := entries(t, filepath.Dir(dst)); len(es) != 1 || es[0] != "out" {
		t.Errorf("left beside the destination: %v", es)
	}

	// Unchanged, with the previous listing: the listing request only.
	srv.ResetRequests()
	again, err := c.List(ctx, "configs", bucket.ListOptions{Prefix: "apps/prod/", Previous: l})
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision != l.Revision {
		t.Errorf("revision moved on an unchanged bucket: %s → %s", l.Revision, again.Revision)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Op != "ListObjects" {
		t.Errorf("unchanged bucket cost %d requests (%v), want one listing", len(reqs), reqs)
	}
	// A fresh client with no previous listing reads the .sourceignore
	// again, and computes the same revision.
	srv.ResetRequests()
	fresh, err := newClient(t, srv).List(ctx, "configs", bucket.ListOptions{Prefix: "apps/prod/"})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Revision != l.Revision || srv.Count("GetObject") != 1 {
		t.Errorf("fresh listing: revision %s (want %s), %d downloads", fresh.Revision, l.Revision, srv.Count("GetObject"))
	}
}

func TestRevisionChangesExactlyWithTheSelection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	srv.PutObjects(t, "bkt", map[string]string{
		"cm.yaml":       "v1\n",
		"other.yaml":    "o\n",
		".sourceignore": "/skip/\n",
		"skip/x.yaml":   "ignored\n",
		"icon.png":      "ignored\n",
	})
	c := newClient(t, srv)
	var prev *bucket.Listing
	list := func() *bucket.Listing {
		t.Helper()
		l, err := c.List(ctx, "bkt", bucket.ListOptions{Previous: prev})
		if err != nil {
			t.Fatal(err)
		}
		prev = l
		return l
	}
	rev := list().Revision
	step := func(what string, change func(), changes bool) {
		t.Helper()
		change()
		got := list().Revision
		if (got != rev) != changes {
			t.Errorf("%s: revision %s → %s, want changed=%v", what, rev, got, changes)
		}
		rev = got
	}
	step("nothing", func() {}, false)
	step("ignored object rewritten", func() { srv.PutObject(t, "bkt", "skip/x.yaml", []byte("new")) }, false)
	step("ignored object added", func() { srv.PutObject(t, "bkt", "skip/y.yaml", []byte("new")) }, false)
	step("default-ignored object added", func() { srv.PutObject(t, "bkt", "photo.jpg", []byte("x")) }, false)
	step("selected object rewritten", func() { srv.PutObject(t, "bkt", "cm.yaml", []byte("v2\n")) }, true)
	step("same content written again", func() { srv.PutObject(t, "bkt", "cm.yaml", []byte("v2\n")) }, false)
	step("selected object added", func() { srv.PutObject(t, "bkt", "new.yaml", []byte("n")) }, true)
	step("selected object deleted", func() { srv.DeleteObject(t, "bkt", "other.yaml") }, true)
	step("folder marker added", func() { srv.PutObject(t, "bkt", "empty/", nil) }, false)
	step(".sourceignore changed to select skip/", func() { srv.PutObject(t, "bkt", ".sourceignore", []byte("# nothing\n")) }, true)
	if k := keys(prev); !strings.Contains(strings.Join(k, ","), "skip/x.yaml") {
		t.Errorf("skip/ not selected after the .sourceignore change: %v", k)
	}
	step("an object renamed (same content)", func() {
		srv.DeleteObject(t, "bkt", "new.yaml")
		srv.PutObject(t, "bkt", "renamed.yaml", []byte("n"))
	}, true)

	// A caller pattern changes the selection, so the revision.
	l, err := c.List(ctx, "bkt", bucket.ListOptions{Ignore: []string{"cm.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Revision == rev {
		t.Error("ignoring cm.yaml did not change the revision")
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	for i := range 10 {
		srv.PutObject(t, "bkt", fmt.Sprintf("f%02d.yaml", i), []byte(strings.Repeat("x", 100)))
	}
	srv.PutObject(t, "bkt", "ignored/big.bin", make([]byte, 10_000))
	c := newClient(t, srv)
	for _, tc := range []struct {
		name string
		opts bucket.ListOptions
		ok   bool
	}{
		{"objects at the limit", bucket.ListOptions{MaxObjects: 11, Ignore: []string{"/ignored/"}}, true},
		// Ignored objects count: a listing is bounded before any rule.
		{"objects over the limit", bucket.ListOptions{MaxObjects: 10, Ignore: []string{"/ignored/"}}, false},
		{"size at the limit", bucket.ListOptions{MaxSize: 1000, Ignore: []string{"/ignored/"}}, true},
		{"size over the limit", bucket.ListOptions{MaxSize: 999, Ignore: []string{"/ignored/"}}, false},
		// Ignored objects do not count towards the size.
		{"ignored bytes do not count", bucket.ListOptions{MaxSize: 1000, Ignore: []string{"*.bin"}}, true},
		{"size over with the big one", bucket.ListOptions{MaxSize: 1000}, false},
		{"no limits", bucket.ListOptions{MaxObjects: -1, MaxSize: -1}, true},
	} {
		l, err := c.List(ctx, "bkt", tc.opts)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && !errors.Is(err, bucket.ErrLimitExceeded):
			t.Errorf("%s: got %v, want ErrLimitExceeded", tc.name, err)
		case !tc.ok:
			t.Logf("%s: %v", tc.name, err)
		case tc.ok && l == nil:
			t.Errorf("%s: nil listing", tc.name)
		}
	}
	// The defaults are the documented ones.
	if bucket.DefaultMaxObjects != 50_000 || bucket.DefaultMaxSize != 100<<20 || bucket.DefaultTimeout != 5*time.Minute {
		t.Error("defaults changed: update the README")
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	const n = 2500
	for i := range n {
		srv.PutObject(t, "bkt", fmt.Sprintf("d%d/f%04d.yaml", i%7, i), []byte{byte(i)})
	}
	l, err := newClient(t, srv).List(context.Background(), "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Objects) != n {
		t.Fatalf("listed %d objects, want %d", len(l.Objects), n)
	}
	for i := 1; i < n; i++ {
		if l.Objects[i-1].Key >= l.Objects[i].Key {
			t.Fatalf("not in key order at %d: %q, %q", i, l.Objects[i-1].Key, l.Objects[i].Key)
		}
	}
	if pages := srv.Count("ListObjects"); pages != 3 {
		t.Errorf("%d listing pages, want 3 of 1,000", pages)
	}
}

func TestFetchIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var fail atomic.Bool
	srv := buckettest.NewServer(t, buckettest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() && strings.HasSuffix(r.URL.Path, "/f7.yaml") {
				http.Error(w, "<Error><Code>InternalError</Code><Message>boom</Message></Error>", http.StatusInternalServerError)
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	srv.CreateBucket(t, "bkt")
	for i := range 20 {
		srv.PutObject(t, "bkt", fmt.Sprintf("d/f%d.yaml", i), []byte("x"))
	}
	c := newClient(t, srv)
	l, err := c.List(ctx, "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()

	// A destination with content is refused, and kept.
	full := filepath.Join(parent, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep"), []byte("keep"), 0o644)
	if err := c.Fetch(ctx, l, full, bucket.FetchOptions{}); !errors.Is(err, bucket.ErrDestinationNotEmpty) {
		t.Errorf("non-empty destination: %v", err)
	}
	if got := readTree(t, full); len(got) != 1 || got["keep"] != "keep" {
		t.Errorf("destination changed: %v", got)
	}

	// A download failing midway leaves the destination as it was (an
	// empty directory here) and nothing beside it.
	fail.Store(true)
	empty := filepath.Join(parent, "empty")
	os.MkdirAll(empty, 0o755)
	err = c.Fetch(ctx, l, empty, bucket.FetchOptions{Concurrency: 3})
	if err == nil || !strings.Contains(err.Error(), "f7.yaml") {
		t.Fatalf("failing download: %v", err)
	}
	t.Log(err)
	if es := entries(t, empty); len(es) != 0 {
		t.Errorf("destination gained %v", es)
	}
	if es := entries(t, parent); len(es) != 2 {
		t.Errorf("left beside the destination: %v", es)
	}

	// An empty directory is replaced on success.
	fail.Store(false)
	if err := c.Fetch(ctx, l, empty, bucket.FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, empty); len(got) != 20 {
		t.Errorf("fetched %d files, want 20", len(got))
	}
}

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

func TestFetchConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int32
	srv := buckettest.NewServer(t, buckettest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && isObjectPath(r.URL.Path) {
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				defer inFlight.Add(-1)
			}
			next.ServeHTTP(w, r)
		})
	}))
	srv.CreateBucket(t, "bkt")
	for i := range 60 {
		srv.PutObject(t, "bkt", fmt.Sprintf("f%d", i), []byte("x"))
	}
	c := newClient(t, srv)
	l, err := c.List(context.Background(), "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(context.Background(), l, filepath.Join(t.TempDir(), "out"), bucket.FetchOptions{Concurrency: 4}); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 4 || p < 2 {
		t.Errorf("peak of %d downloads at once, want 2..4", p)
	}
}

func TestRegionLookup(t *testing.T) {
	t.Parallel()
	srv := buckettest.NewServer(t, buckettest.WithCredentials("AKIDREGION", "secret-of-region"), buckettest.WithRegion("eu-west-3"))
	srv.CreateBucket(t, "bkt")
	srv.PutObject(t, "bkt", "a", []byte("a"))
	// Without a region, minio-go asks for the bucket's location once: the
	// request, signed for us-east-1, is refused with an answer naming the
	// region, as S3 does, and minio-go goes on with it.
	c, err := bucket.New(srv.Endpoint(), bucket.WithInsecure(true), bucket.WithStaticCredentials("AKIDREGION", "secret-of-region", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = c.List(context.Background(), "bkt", bucket.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if srv.Count("GetBucketLocation") != 1 || srv.Count("ListObjects") != 1 {
		t.Errorf("%d location requests and %d listings, want 1 and 1", srv.Count("GetBucketLocation"), srv.Count("ListObjects"))
	}
	// With it, the listing is the only request.
	srv.ResetRequests()
	if _, err := newClient(t, srv).List(context.Background(), "bkt", bucket.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 {
		t.Errorf("%d requests with a region, want 1", len(reqs))
	}
}

// TestHostileListings: an endpoint that answers a listing with an endless
// document, or with keys outside the prefix asked for.
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
