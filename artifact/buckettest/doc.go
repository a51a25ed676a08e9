// Package buckettest runs an S3-compatible server for tests: gofakes3
// (github.com/johannesboyne/gofakes3) with its in-memory backend, served by
// an httptest server on loopback, over HTTP or HTTPS (with a certificate
// the test trusts, and optionally a required client certificate), with
// optional AWS Signature Version 4 authentication (static keys, a session
// token, a region), a hostile mode that echoes every request back in its
// error, and a record of every request (operation, bucket, key, headers)
// so a test can count what a client asked for.
//
// Objects are put straight into the backend, so a test can store any key,
// hostile ones included, without a request being recorded.
//
//	srv := buckettest.NewServer(t, buckettest.WithCredentials("AKIDEXAMPLE", "secret"))
//	srv.CreateBucket(t, "configs")
//	srv.PutObjects(t, "configs", map[string]string{"apps/cm.yaml": "kind: ConfigMap\n"})
//	c, _ := bucket.New(srv.Endpoint(), srv.ClientOptions()...)
//	l, _ := c.List(ctx, "configs", bucket.ListOptions{Prefix: "apps/"})
//	_ = c.Fetch(ctx, l, dir, bucket.FetchOptions{})
//	srv.Count("GetObject") // 1
//
// Signatures are checked over the method, path, query, signed headers and
// the payload hash the client declared; the payload itself is not hashed,
// and presigned URLs are refused.
package buckettest
