package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/kit/artifact/artifacttest"
	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/repo"
)

// A HelmChart reads an index artifact once per repository URL and digest:
// with the artifact gone from the artifact server, a second chart of the
// same index still resolves from the shared cache; a cache too small to
// hold the index keeps nothing, so the same chart then needs the artifact.
func TestChartFromIndexUsesTheCache(t *testing.T) {
	ctx := context.Background()
	srv := helmtest.NewServer(t, t.TempDir())
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}))
	rc, err := repo.New(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		cache     *repo.Cache
		wantAfter bool // resolves once the artifact is gone
	}{
		{"shared", NewIndexCache(), true},
		{"too-small", repo.NewCache(1, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := artifacttest.NewServer(t)
			key := storage.Key{Kind: helmRepositoryStorageKind, Namespace: "test", Name: tc.name}
			f, err := os.Open(filepath.Join(srv.Dir(), "index.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := as.Storage().Store(ctx, key, "index.yaml", f, "")
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			r := &HelmChartReconciler{Fetcher: fetch.New(fetch.WithRetries(1)), IndexCache: tc.cache}
			if _, err := r.chartFromIndex(ctx, rc, a, "app", "*", t.TempDir()); err != nil {
				t.Fatal(err)
			}
			if err := as.Storage().Remove(ctx, key); err != nil {
				t.Fatal(err)
			}
			ch, err := r.chartFromIndex(ctx, rc, a, "app", "*", t.TempDir())
			if tc.wantAfter && (err != nil || ch.Metadata.Version != "1.0.0") {
				t.Fatalf("second chart of the same index: %v", err)
			}
			if !tc.wantAfter && err == nil {
				t.Fatal("a cache smaller than the index kept it")
			}
		})
	}
}
