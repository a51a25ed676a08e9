package chart_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"

	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/helmutil/repo"
)

func deps(ds ...*chartv2.Dependency) []*chartv2.Dependency { return ds }

func TestBuildDependencies(t *testing.T) {
	// Nothing goes to the process's temporary directory once done.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithBasicAuth("u", "p"))
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "redis", Version: "17.1.0"}))
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "redis", Version: "18.0.0"}))
	reg := ocitest.New(t)
	ociTgz := helmtest.PackageChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "pg", Version: "2.3.0"}), t.TempDir())
	helmtest.PushChart(t, reg, ociTgz, "charts", helmtest.PushOptions{})
	ociClient, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	helmtest.WriteChart(t, filepath.Join(root, "libs"), helmtest.Chart{Name: "common", Version: "1.4.0", Type: "library", Templates: map[string]string{}})
	helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "app", Version: "1.0.0", Dependencies: deps(
		&chartv2.Dependency{Name: "common", Version: "1.x", Repository: "file://../../libs/common"},
		&chartv2.Dependency{Name: "redis", Version: "~17", Repository: srv.URL()},
		&chartv2.Dependency{Name: "pg", Version: ">=2.0.0", Repository: "oci://" + reg.Repo("charts")},
	)})
	ch, err := chart.LoadDir(ctx(t), root, "charts/app", chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	o := chart.DependencyOptions{
		HTTPRepository: func(_ context.Context, url string) (*repo.Repository, error) {
			asked = append(asked, url)
			return repo.New(url, repo.WithBasicAuth("u", "p"))
		},
		OCIRepository: func(_ context.Context, url string) (*repo.OCIRepository, error) {
			return repo.NewOCIRepository(url, ociClient)
		},
	}
	if err := chart.BuildDependencies(ctx(t), ch, root, "charts/app", o); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ch.Dependencies() {
		got = append(got, d.Name()+"@"+d.Metadata.Version)
	}
	if strings.Join(got, " ") != "common@1.4.0 pg@2.3.0 redis@17.1.0" || len(asked) != 1 || asked[0] != srv.URL() {
		t.Fatalf("dependencies %v, repositories asked %v", got, asked)
	}
	// Helm renders with them: the package loads in Helm.
	var pkg bytes.Buffer
	if _, err := chart.Package(ctx(t), ch, &pkg, chart.PackageOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, err := loader.LoadArchive(bytes.NewReader(pkg.Bytes()))
	if err != nil || len(hc.Dependencies()) != 3 {
		t.Fatalf("helm loads %v deps: %v", hc, err)
	}

	// Without the credentials the repository refuses, with a typed error.
	ch2, _ := chart.LoadDir(ctx(t), root, "charts/app", chart.LoadOptions{})
	o.HTTPRepository = nil
	if err := chart.BuildDependencies(ctx(t), ch2, root, "charts/app", o); !errors.Is(err, repo.ErrUnauthorized) {
		t.Fatalf("without credentials: %v", err)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 0 {
		t.Fatalf("left in TMPDIR: %v", ents)
	}
}

func unix(s int64) time.Time { return time.Unix(s, 0) }

func TestBuildDependenciesRefusesEscapesAndCycles(t *testing.T) {
	outside := t.TempDir()
	helmtest.WriteChart(t, outside, helmtest.Chart{Name: "evil", Version: "1.0.0"})
	for name, c := range map[string]struct {
		deps  []*chartv2.Dependency
		setup func(root string)
		want  error
	}{
		"dot-dot out of the root": {deps(&chartv2.Dependency{Name: "evil", Repository: "file://../../../" + filepath.Base(outside) + "/evil"}), nil, chart.ErrUnsafePath},
		"absolute":                {deps(&chartv2.Dependency{Name: "evil", Repository: "file://" + filepath.Join(outside, "evil")}), nil, chart.ErrUnsafePath},
		"symlink out": {deps(&chartv2.Dependency{Name: "evil", Repository: "file://../../libs/evil"}), func(root string) {
			os.MkdirAll(filepath.Join(root, "libs"), 0o755)
			os.Symlink(filepath.Join(outside, "evil"), filepath.Join(root, "libs", "evil"))
		}, chart.ErrUnsafePath},
		"self": {deps(&chartv2.Dependency{Name: "app", Repository: "file://."}), nil, chart.ErrDependencyCycle},
		"a -> b -> a": {deps(&chartv2.Dependency{Name: "b", Repository: "file://../b"}), func(root string) {
			helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "b", Version: "1.0.0", Dependencies: deps(
				&chartv2.Dependency{Name: "app", Repository: "file://../app"})})
		}, chart.ErrDependencyCycle},
		"version mismatch": {deps(&chartv2.Dependency{Name: "b", Version: "^2", Repository: "file://../b"}), func(root string) {
			helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "b", Version: "1.0.0"})
		}, chart.ErrDependency},
		"name mismatch": {deps(&chartv2.Dependency{Name: "c", Repository: "file://../b"}), func(root string) {
			helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "b", Version: "1.0.0"})
		}, chart.ErrDependency},
		"no repository, not vendored": {deps(&chartv2.Dependency{Name: "x"}), nil, chart.ErrDependency},
		"repository name":             {deps(&chartv2.Dependency{Name: "x", Repository: "@stable"}), nil, chart.ErrDependency},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "app", Version: "1.0.0", Dependencies: c.deps})
			if c.setup != nil {
				c.setup(root)
			}
			ch, err := chart.LoadDir(ctx(t), root, "charts/app", chart.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = chart.BuildDependencies(ctx(t), ch, root, "charts/app", chart.DependencyOptions{})
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestMergeValuesFiles(t *testing.T) {
	root := t.TempDir()
	app := helmtest.WriteChart(t, filepath.Join(root, "charts"), helmtest.Chart{Name: "app", Version: "1.0.0",
		Values: "replicas: 1\nimage:\n  repo: app\n  tag: v1\nlist: [a, b]\n",
		Files: map[string]string{
			"values-prod.yaml": "replicas: 3\nimage:\n  tag: v2\nlist: [c]\n",
			"values-eu.yaml":   "region: eu\n---\nimage:\n  tag: v3\n",
		}})
	load := func() *chartv2.Chart {
		ch, err := chart.LoadDir(ctx(t), root, "charts/app", chart.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	// From the chart's own files, in order, over its defaults when listed.
	ch := load()
	res, err := chart.MergeValuesFiles(ch, []string{"values.yaml", "values-prod.yaml", "values-eu.yaml"}, chart.ValuesFilesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"replicas": float64(3), "image": map[string]any{"repo": "app", "tag": "v3"}, "list": []any{"c"}, "region": "eu"}
	if diffValues(ch.Values, want) || len(res.Files) != 3 || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("merged %v, %+v", ch.Values, res)
	}
	// Without values.yaml listed, the chart's defaults are replaced (as Flux does).
	ch = load()
	if _, err := chart.MergeValuesFiles(ch, []string{"values-eu.yaml"}, chart.ValuesFilesOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := ch.Values["replicas"]; ok {
		t.Fatalf("defaults kept: %v", ch.Values)
	}
	// From the source root.
	os.WriteFile(filepath.Join(root, "prod.yaml"), []byte("replicas: 9\n"), 0o644)
	ch = load()
	if _, err := chart.MergeValuesFiles(ch, []string{"charts/app/values.yaml", "prod.yaml"}, chart.ValuesFilesOptions{Root: root}); err != nil {
		t.Fatal(err)
	}
	if ch.Values["replicas"] != float64(9) {
		t.Fatalf("root values %v", ch.Values)
	}
	// Missing files, escapes, limits.
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("password: hunter2\n"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "link.yaml"))
	for name, c := range map[string]struct {
		files []string
		o     chart.ValuesFilesOptions
		want  error
	}{
		"missing":                 {[]string{"values-prod.yaml", "nope.yaml"}, chart.ValuesFilesOptions{}, chart.ErrValuesFileNotFound},
		"missing in root":         {[]string{"nope.yaml"}, chart.ValuesFilesOptions{Root: root}, chart.ErrValuesFileNotFound},
		"dot-dot":                 {[]string{"../secret.yaml"}, chart.ValuesFilesOptions{}, chart.ErrUnsafePath},
		"dot-dot from root":       {[]string{"../" + filepath.Base(outside) + "/secret.yaml"}, chart.ValuesFilesOptions{Root: root}, chart.ErrUnsafePath},
		"absolute":                {[]string{filepath.Join(outside, "secret.yaml")}, chart.ValuesFilesOptions{Root: root}, chart.ErrUnsafePath},
		"symlink out of the root": {[]string{"link.yaml"}, chart.ValuesFilesOptions{Root: root}, chart.ErrUnsafePath},
		"over the limit":          {[]string{"values-prod.yaml"}, chart.ValuesFilesOptions{MaxFileBytes: 10}, chart.ErrLimitExceeded},
	} {
		t.Run(name, func(t *testing.T) {
			ch := load()
			before := ch.Values
			_, err := chart.MergeValuesFiles(ch, c.files, c.o)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") || diffValues(ch.Values, before) {
				t.Fatalf("leaked or changed: %v %v", err, ch.Values)
			}
		})
	}
	ch = load()
	res, err = chart.MergeValuesFiles(ch, []string{"values-prod.yaml", "nope.yaml"}, chart.ValuesFilesOptions{IgnoreMissing: true})
	if err != nil || len(res.Files) != 1 {
		t.Fatalf("ignore missing: %v %+v", err, res)
	}
	_ = app
}

func diffValues(a, b map[string]any) bool {
	return !equalAny(a, b)
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !equalAny(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalAny(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestPackageIsReproducible(t *testing.T) {
	write := func(t *testing.T, reverse bool, perm os.FileMode, mtime int64) string {
		dir := t.TempDir()
		app := richChart(t, dir)
		// Same content, different order of creation, modes and times.
		var paths []string
		filepath.Walk(app, func(p string, fi os.FileInfo, _ error) error {
			if !fi.IsDir() {
				paths = append(paths, p)
			}
			return nil
		})
		if reverse {
			for i, j := 0, len(paths)-1; i < j; i, j = i+1, j-1 {
				paths[i], paths[j] = paths[j], paths[i]
			}
		}
		for _, p := range paths {
			data, _ := os.ReadFile(p)
			os.Remove(p)
			os.WriteFile(p, data, perm)
			os.Chtimes(p, unix(mtime), unix(mtime))
		}
		return dir
	}
	pack := func(t *testing.T, dir string, values []string) ([]byte, chart.PackageResult) {
		ch, err := chart.LoadDir(ctx(t), dir, "app", chart.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o := chart.PackageOptions{}
		if values != nil {
			res, err := chart.MergeValuesFiles(ch, values, chart.ValuesFilesOptions{Root: dir})
			if err != nil {
				t.Fatal(err)
			}
			if o.Version, err = chart.VersionWithMetadata(ch.Metadata.Version, res.BuildMetadata()); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		res, err := chart.Package(ctx(t), ch, &b, o)
		if err != nil {
			t.Fatal(err)
		}
		return b.Bytes(), res
	}
	d1 := write(t, false, 0o644, 1)
	d2 := write(t, true, 0o600, 1_700_000_000)
	b1, r1 := pack(t, d1, nil)
	b2, r2 := pack(t, d2, nil)
	if !bytes.Equal(b1, b2) || r1.Digest != r2.Digest || r1.FileName != "app-1.2.3.tgz" || r1.Size != int64(len(b1)) {
		t.Fatalf("not reproducible: %+v %+v", r1, r2)
	}
	// Repackaging our package, or Helm's, gives the same bytes again.
	again, err := chart.LoadArchive(ctx(t), bytes.NewReader(b1), chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b3 bytes.Buffer
	if _, err := chart.Package(ctx(t), again, &b3, chart.PackageOptions{}); err != nil || !bytes.Equal(b1, b3.Bytes()) {
		t.Fatalf("repackaged differs: %v", err)
	}
	helmTgz := helmtest.PackageChart(t, filepath.Join(d2, "app"), t.TempDir())
	fromHelm, err := chart.LoadArchiveFile(ctx(t), helmTgz, chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b4 bytes.Buffer
	if _, err := chart.Package(ctx(t), fromHelm, &b4, chart.PackageOptions{}); err != nil || !bytes.Equal(b1, b4.Bytes()) {
		t.Fatalf("helm's package repackaged differs: %v", err)
	}
	// Helm reads it as the chart it is.
	hc, err := loader.LoadArchive(bytes.NewReader(b1))
	if err != nil || summary(hc) != summary(again) {
		t.Fatalf("helm reads:\n%s\nwe read:\n%s%v", summary(hc), summary(again), err)
	}

	// With values files: reproducible, the version marked, and another
	// content another digest.
	for _, d := range []string{d1, d2} {
		os.WriteFile(filepath.Join(d, "prod.yaml"), []byte("replicas: 5\n"), 0o644)
	}
	v1, rv1 := pack(t, d1, []string{"app/values.yaml", "prod.yaml"})
	v2, rv2 := pack(t, d2, []string{"app/values.yaml", "prod.yaml"})
	if !bytes.Equal(v1, v2) || !strings.HasPrefix(rv1.Version, "1.2.3+values.") || rv1.Digest == r1.Digest {
		t.Fatalf("with values: %+v %+v", rv1, rv2)
	}
	os.WriteFile(filepath.Join(d2, "prod.yaml"), []byte("replicas: 6\n"), 0o644)
	_, rv3 := pack(t, d2, []string{"app/values.yaml", "prod.yaml"})
	if rv3.Digest == rv1.Digest || rv3.Version == rv1.Version {
		t.Fatalf("other values, same package: %+v", rv3)
	}
	hv, err := loader.LoadArchive(bytes.NewReader(v1))
	if err != nil || hv.Metadata.Version != rv1.Version || hv.Values["replicas"] != float64(5) {
		t.Fatalf("helm reads %v: %v", hv, err)
	}

	// PackageFile is atomic: nothing is left when packaging fails.
	out := t.TempDir()
	bad := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: "../x", Version: "1.0.0", APIVersion: "v2"}}
	if _, err := chart.PackageFile(ctx(t), bad, filepath.Join(out, "x.tgz"), chart.PackageOptions{}); !errors.Is(err, chart.ErrInvalidChart) {
		t.Fatalf("bad chart: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
	if _, err := chart.VersionWithMetadata("1.2.3+x", "values.abc"); err != nil {
		t.Fatal(err)
	}
	if v, _ := chart.VersionWithMetadata("1.2.3+x", "values.abc"); v != "1.2.3+x.values.abc" {
		t.Fatal(v)
	}
	if _, err := chart.VersionWithMetadata("1.2.3", "no spaces"); err == nil {
		t.Fatal("invalid metadata accepted")
	}
}
