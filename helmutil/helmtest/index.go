package helmtest

import (
	"path/filepath"
	"testing"

	repov1 "helm.sh/helm/v4/pkg/repo/v1"
)

// GenerateIndex writes dir/index.yaml for the chart packages (*.tgz) in dir
// with Helm's repo.IndexDirectory, as `helm repo index dir --url baseURL`
// does, and returns its path. With baseURL empty the chart URLs are
// relative to the index (the usual layout).
func GenerateIndex(t testing.TB, dir, baseURL string) string {
	t.Helper()
	idx, err := repov1.IndexDirectory(dir, baseURL)
	if err != nil {
		t.Fatalf("helmtest: index %s: %v", dir, err)
	}
	idx.SortEntries()
	p := filepath.Join(dir, "index.yaml")
	if err := idx.WriteFile(p, 0o644); err != nil {
		t.Fatalf("helmtest: write index: %v", err)
	}
	return p
}
