package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
