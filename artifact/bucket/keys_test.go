package bucket_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/artifact/bucket"
	"github.com/gitopskit/kit/artifact/buckettest"
)

// TestHostileKeys stores one hostile key beside a harmless one and checks
// that the listing is refused before anything is downloaded, and that
// nothing was written anywhere.
func TestHostileKeys(t *testing.T) {
	t.Parallel()
	for _, key := range []string{
		"../evil.yaml",
		"../../../../../../tmp/evil.yaml",
		"a/../../evil.yaml",
		"a/b/../../../evil.yaml",
		"/etc/evil.yaml",
		"//evil.yaml",
		"a//b.yaml",
		"./a.yaml",
		"a/./b.yaml",
		"a/.",
		"a/..",
		"..",
		".",
		"a\\..\\..\\evil.yaml",
		"..\\evil.yaml",
		"C:\\evil.yaml",
		"tab\there.yaml",
		"del\x7f.yaml",
		"../",     // a folder marker climbing out
		"a/../b/", // a folder marker with ..
		"/",
		strings.Repeat("a", 1025),
		strings.Repeat("a/", 100) + strings.Repeat("b", 256),
	} {
		t.Run(strings.NewReplacer("/", "_", "\\", "_").Replace(key[:min(len(key), 40)]), func(t *testing.T) {
			t.Parallel()
			srv := buckettest.NewServer(t)
			srv.CreateBucket(t, "bkt")
			srv.PutObject(t, "bkt", "ok.yaml", []byte("ok"))
			srv.PutObject(t, "bkt", key, []byte("pwned"))
			c := newClient(t, srv)
			_, err := c.List(context.Background(), "bkt", bucket.ListOptions{NoDefaultIgnore: true})
			if !errors.Is(err, bucket.ErrUnsafeKey) {
				t.Fatalf("key %q: got %v, want ErrUnsafeKey", key, err)
			}
			if n := srv.Count("GetObject"); n != 0 {
				t.Errorf("%d downloads before the key was refused", n)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

// TestKeyConflicts refuses a key that is both an object and the folder of
// another selected object, unless ignore rules leave one side out, and
// skips folder markers.
func TestKeyConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	srv.PutObjects(t, "bkt", map[string]string{"a": "file", "a/b.yaml": "below", "dir/": "", "dir/x.yaml": "x"})
	c := newClient(t, srv)
	_, err := c.List(ctx, "bkt", bucket.ListOptions{})
	if !errors.Is(err, bucket.ErrUnsafeKey) || !strings.Contains(err.Error(), `"a/b.yaml"`) {
		t.Fatalf("file and folder: %v", err)
	}
	t.Log(err)
	for _, ignore := range []string{"/a", "/a/"} {
		l, err := c.List(ctx, "bkt", bucket.ListOptions{Ignore: []string{ignore}})
		if err != nil {
			t.Fatalf("ignore %q: %v", ignore, err)
		}
		dst := filepath.Join(t.TempDir(), "out")
		if err := c.Fetch(ctx, l, dst, bucket.FetchOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Logf("ignore %q: %v", ignore, readTree(t, dst))
	}
}

// TestFetchRefusesHandMadeListings: a Listing is a plain value; Fetch
// checks its keys again, so one edited by hand cannot write outside.
func TestFetchRefusesHandMadeListings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := buckettest.NewServer(t)
	srv.CreateBucket(t, "bkt")
	srv.PutObject(t, "bkt", "ok.yaml", []byte("ok"))
	c := newClient(t, srv)
	l, err := c.List(ctx, "bkt", bucket.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	for _, key := range []string{"../evil.yaml", "/tmp/evil.yaml", "a/../../evil.yaml"} {
		l.Objects = []bucket.Object{{Key: key, ETag: "x", Size: 2}}
		err := c.Fetch(ctx, l, filepath.Join(parent, "out"), bucket.FetchOptions{})
		if !errors.Is(err, bucket.ErrUnsafeKey) {
			t.Errorf("key %q: %v", key, err)
		}
	}
	if es, _ := os.ReadDir(parent); len(es) != 0 {
		t.Errorf("left in the parent: %v", es)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(parent), "evil.yaml")); err == nil {
		t.Error("evil.yaml written outside")
	}
}
