package repo_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/internal/exampletb"
	"github.com/gitopskit/kit/helmutil/repo"
)

// A source controller fetches a HelmRepository's index as its artifact,
// parses it later through a shared cache, selects a version and downloads
// it.
func Example() {
	t := exampletb.New()
	defer t.Close()
	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithTLS(), helmtest.WithBasicAuth("user", "pass"))
	for _, v := range []string{"1.0.0", "1.0.1", "1.1.0-rc.1", "2.0.0"} {
		srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: v}))
	}
	ctx := context.Background()
	storage := t.TempDir()

	// The HelmRepository: credentials and TLS from its Secrets
	// (runtime/secrets' HTTPAuth and TLS.Config()).
	r, err := repo.New(srv.URL(), repo.WithBasicAuth("user", "pass"), repo.WithTLSConfig(srv.TLSConfig()))
	if err != nil {
		panic(err)
	}
	indexFile := filepath.Join(storage, "index.yaml")
	fetched, err := r.FetchIndexFile(ctx, indexFile) // the raw index: revision fetched.Digest
	if err != nil {
		panic(err)
	}

	// The HelmChart: the index from the artifact, parsed once for all
	// reconciles, with bounded memory.
	cache := repo.NewCache(512<<20, time.Hour)
	idx, err := cache.GetOrLoad(ctx, r.URL(), fetched.Digest, func(ctx context.Context) (*repo.Index, error) {
		return repo.LoadIndexFile(ctx, indexFile, repo.ParseOptions{})
	})
	if err != nil {
		panic(err)
	}
	cv, err := idx.Get("app", "~1.0") // Helm's answer: latest 1.0.x, no prereleases
	if err != nil {
		panic(err)
	}
	dl, err := r.DownloadChart(ctx, cv, filepath.Join(storage, "app.tgz"), repo.DownloadOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(cv.Name, cv.Version, string(dl.Digest) == "sha256:"+cv.Digest)

	_, err = idx.Get("app", "3.x")
	fmt.Println(errors.Is(err, repo.ErrVersionNotFound))
	// Output:
	// app 1.0.1 true
	// true
}
