package artifacttest_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/untar"
)

func TestServer(t *testing.T) {
	t.Parallel()
	srv := artifacttest.NewServer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("kind: ConfigMap\n"), 0o644)
	a := srv.Add(t, "gitrepository", "default", "app", dir, "main@sha1:0123456789abcdef0123456789abcdef01234567")
	if a.Revision != "main@sha1:0123456789abcdef0123456789abcdef01234567" || a.Digest.Validate() != nil {
		t.Fatalf("artifact %+v", a)
	}
	resp, err := http.Get(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+string(a.Digest)+`"` {
		t.Fatalf("GET %s: %d", a.URL, resp.StatusCode)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := untar.Extract(context.Background(), resp.Body, dst, untar.Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "cm.yaml")); string(b) != "kind: ConfigMap\n" {
		t.Errorf("content %q", b)
	}

	f := srv.AddFile(t, "bucket", "default", "raw", "blob.bin", []byte("raw"), "")
	if f.Revision != string(f.Digest) {
		t.Errorf("revision %q, want the digest", f.Revision)
	}
	if err := srv.Storage().Verify(context.Background(), f); err != nil {
		t.Error(err)
	}
	var _ artifact.Artifact = f
}
