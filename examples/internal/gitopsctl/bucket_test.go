package gitopsctl

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// Buckets are listed, suspended and resumed like the other sources.
func TestBucket(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	b := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
		Spec: sourcev1.BucketSpec{
			BucketName: "manifests", Endpoint: "127.0.0.1:1", Prefix: "prod/", Insecure: true,
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	if err := env.Client().Create(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	c := newCtl(t)
	r := c.run("get", "buckets", "-n", ns, "-o", "wide")
	expect(t, r, ExitOK, "NAME", "ENDPOINT", "BUCKET", "PREFIX", "data", "127.0.0.1:1", "manifests", "prod/")
	r = c.run("get", "sources", "-n", ns)
	expect(t, r, ExitOK, "bucket/data")
	expect(t, c.run("suspend", "bucket", "data", "-n", ns), ExitOK)
	r = c.run("get", "bucket", "data", "-n", ns)
	expect(t, r, ExitOK, "True")
	r = c.run("export", "bucket", "data", "-n", ns)
	expect(t, r, ExitOK, "kind: Bucket", "bucketName: manifests", "suspend: true")
}
