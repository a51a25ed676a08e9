package bucket_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/bucket"
)

// exampleEndpoint serves an in-memory S3 bucket "configs" on loopback
// (what buckettest.NewServer does in tests) and returns its host:port.
func exampleEndpoint(files map[string]string) (string, func()) {
	be := s3mem.New()
	_ = be.CreateBucket("configs")
	for k, v := range files {
		_, _ = be.PutObject("configs", k, map[string]string{"Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT"}, bytes.NewReader([]byte(v)), int64(len(v)), nil)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	return strings.TrimPrefix(srv.URL, "http://"), srv.Close
}

// A source controller syncs a folder of a bucket: a listing tells whether
// anything changed, and only then are the objects downloaded. (README:
// Usage.)
func Example() {
	ctx := context.Background()
	endpoint, stop := exampleEndpoint(map[string]string{
		"apps/prod/deploy.yaml": "kind: Deployment\n",
		"apps/prod/README.md":   "left out by the caller's pattern\n",
	})
	defer stop()
	tmp, _ := os.MkdirTemp("", "bucket-example-")
	defer os.RemoveAll(tmp)
	var lastRevision artifact.Digest // e.g. from status.artifact.revision
	accessKey, secretKey := "", ""   // from spec.secretRef; empty: anonymous

	c, err := bucket.New(endpoint,
		bucket.WithInsecure(true), // plain HTTP: only when asked
		bucket.WithRegion("us-east-1"),
		bucket.WithStaticCredentials(accessKey, secretKey, ""),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := c.List(ctx, "configs", bucket.ListOptions{
		Prefix: "apps/prod/",
		Ignore: []string{"*.md"}, // .gitignore syntax, after the defaults and .sourceignore objects
	})
	switch {
	case errors.Is(err, bucket.ErrBucketNotFound), errors.Is(err, bucket.ErrAccessDenied):
		fmt.Println("check spec.bucketName and spec.secretRef:", err) // no credential in err
		return
	case err != nil:
		fmt.Println(err) // ErrUnsafeKey, ErrLimitExceeded, a timeout…
		return
	}
	if l.Revision == lastRevision {
		return // unchanged: one listing, no download
	}
	dir := filepath.Join(tmp, "content")
	if err := c.Fetch(ctx, l, dir, bucket.FetchOptions{}); err != nil {
		fmt.Println(err) // ErrObjectChanged: list again
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "apps/prod/deploy.yaml"))
	fmt.Printf("%d object, %s", len(l.Objects), b)
	// then: storage.Archive(ctx, key, dir, string(l.Revision), archive.Options{NoDefaultIgnore: true, NoIgnoreFile: true})

	// Output:
	// 1 object, kind: Deployment
}

// ExampleClient_List_previous: handing List the previous listing means an
// unchanged .sourceignore is not read again.
func ExampleClient_List_previous() {
	ctx := context.Background()
	endpoint, stop := exampleEndpoint(map[string]string{".sourceignore": "*.md\n", "cm.yaml": "a: b\n", "notes.md": "x\n"})
	defer stop()
	c, _ := bucket.New(endpoint, bucket.WithInsecure(true), bucket.WithRegion("us-east-1"), bucket.WithTransport(http.DefaultTransport))
	first, _ := c.List(ctx, "configs", bucket.ListOptions{})
	second, _ := c.List(ctx, "configs", bucket.ListOptions{Previous: first})
	fmt.Println(len(first.Objects), first.Ignored, second.Revision == first.Revision)
	// Output:
	// 2 1 true
}
