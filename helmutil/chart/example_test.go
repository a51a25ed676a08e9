package chart_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/internal/exampletb"
	"github.com/gitopskit/kit/helmutil/repo"
)

// A HelmChart whose source is a GitRepository: the chart is a directory of
// the extracted artifact, with a file:// dependency and one from a chart
// repository, and values files merged in; the package's digest depends on
// nothing but that content.
func Example() {
	t := exampletb.New()
	defer t.Close()
	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithBasicAuth("user", "pass"))
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "redis", Version: "17.3.0"}))

	root := t.TempDir() // the GitRepository artifact, extracted
	helmtest.WriteChart(t, filepath.Join(root, "libs"), helmtest.Chart{Name: "common", Version: "1.0.0", Type: "library", Templates: map[string]string{}})
	helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "app", Version: "1.4.0", Values: "replicas: 1\n",
		Dependencies: []*chartv2.Dependency{
			{Name: "common", Version: "1.x", Repository: "file://../../libs/common"},
			{Name: "redis", Version: "~17", Repository: srv.URL()},
		}})
	os.WriteFile(filepath.Join(root, "values-prod.yaml"), []byte("replicas: 3\n"), 0o644)
	ctx := context.Background()

	ch, err := chart.LoadDir(ctx, root, "charts/app", chart.LoadOptions{})
	if err != nil {
		panic(err)
	}
	err = chart.BuildDependencies(ctx, ch, root, "charts/app", chart.DependencyOptions{
		// The credentials of the HelmRepository with this URL, if any.
		HTTPRepository: func(ctx context.Context, url string) (*repo.Repository, error) {
			return repo.New(url, repo.WithBasicAuth("user", "pass"))
		},
	})
	if err != nil {
		panic(err)
	}
	vals, err := chart.MergeValuesFiles(ch, []string{"charts/app/values.yaml", "values-prod.yaml"}, chart.ValuesFilesOptions{Root: root})
	if err != nil {
		panic(err)
	}
	version, err := chart.VersionWithMetadata(ch.Metadata.Version, vals.BuildMetadata())
	if err != nil {
		panic(err)
	}
	out := t.TempDir()
	res, err := chart.PackageFile(ctx, ch, filepath.Join(out, "app.tgz"), chart.PackageOptions{Version: version})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.FileName, len(ch.Dependencies()), ch.Values["replicas"])
	// Output:
	// app-1.4.0+values.9cf3a5f89adc.tgz 2 3
}
