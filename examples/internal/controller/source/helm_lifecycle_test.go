package source_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/helmutil/chart"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// HelmRepositories and HelmCharts share the sources' lifecycle: metrics
// series while they live, suspension left alone until resumed, and on
// deletion their artifacts removed from storage and their series gone. A
// HelmChart of a repository with basic auth and TLS downloads the chart
// with the repository's credentials.
func TestHelmSourcesLifecycle(t *testing.T) {
	t.Parallel()
	h, _ := newHelmHarness(t, helmLimits{})
	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithTLS(), helmtest.WithBasicAuth(helmUser, helmPassword))
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}))
	h.secret("auth", map[string]string{"username": helmUser, "password": helmPassword})
	h.secret("tls", map[string]string{"ca.crt": string(caOf(t, srv))})
	hr := helmRepository("charts", srv.URL(), func(s *sourcev1.HelmRepositorySpec) {
		s.SecretRef = &meta.LocalObjectReference{Name: "auth"}
		s.CertSecretRef = &meta.LocalObjectReference{Name: "tls"}
	})
	h.create(hr)
	hc := helmChart("app", "app", sourcev1.HelmRepositoryKind, "charts")
	h.create(hc)
	h.ready(hr)
	h.ready(hc)

	for _, o := range []struct {
		obj  client.Object
		kind string
	}{{hr, sourcev1.HelmRepositoryKind}, {hc, sourcev1.HelmChartKind}} {
		h.wantMetric("gitopskit_reconcile_condition", series(o.obj, o.kind, "type", "Ready", "status", "True"), 1)
		h.wantMetric("gitopskit_reconcile_condition", series(o.obj, o.kind, "type", meta.ArtifactInStorageCondition, "status", "True"), 1)
		h.wantMetric("gitopskit_suspend_status", series(o.obj, o.kind), 0)
	}

	h.update(hc, func() { hc.Spec.Suspend = true })
	h.wantMetric("gitopskit_suspend_status", series(hc, sourcev1.HelmChartKind), 1)
	h.update(hc, func() { hc.Spec.Suspend = false })
	h.wantMetric("gitopskit_suspend_status", series(hc, sourcev1.HelmChartKind), 0)
	h.ready(hc)

	var paths []string
	for _, a := range []*sourcev1.HelmChart{hc} {
		p, err := h.artifacts.Storage().LocalPath(*a.Status.Artifact)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(hr), hr); err != nil {
		t.Fatal(err)
	}
	p, err := h.artifacts.Storage().LocalPath(*hr.Status.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, p)
	for _, o := range []client.Object{hc, hr} {
		if err := h.c.Delete(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		h.gone(o)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("artifact %s still in storage after deletion: %v", p, err)
		}
	}
	h.wantNoMetrics(hc, sourcev1.HelmChartKind)
	h.wantNoMetrics(hr, sourcev1.HelmRepositoryKind)
}

// A chart in git whose Chart.yaml depends on a chart of an authenticated
// repository gets it with the credentials of the HelmRepository of its
// namespace with that URL; without such a HelmRepository the repository
// refuses, and the failure names the dependency, not the credentials.
func TestHelmChartDependencies(t *testing.T) {
	t.Parallel()
	h, events := newHelmHarness(t, helmLimits{})
	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithBasicAuth(helmUser, helmPassword))
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "lib", Version: "0.2.0"}))

	tree := t.TempDir()
	helmtest.WriteChart(t, tree+"/charts", helmtest.Chart{Name: "app", Version: "1.0.0",
		Dependencies: []*chartv2.Dependency{{Name: "lib", Version: "0.x", Repository: srv.URL()}}})
	gs := gittest.NewServer(t)
	gs.InitRepository("charts.git").CommitDir("main", "chart", tree)
	src := gitRepository("charts", gs.HTTPURL("charts.git"), func(s *sourcev1.GitRepositorySpec) {
		s.Reference = &sourcev1.GitRepositoryRef{Branch: "main"}
	})
	h.create(src)
	h.ready(src)

	anonymous := helmChart("anonymous", "charts/app", sourcev1.GitRepositoryKind, "charts")
	h.create(anonymous)
	msg := h.notReady(anonymous, "lib")
	if c := conditions.Get(anonymous, conditions.Ready); c.Reason != "ChartPackageFailed" {
		t.Errorf("without credentials: %s", describe(anonymous))
	}

	h.secret("auth", map[string]string{"username": helmUser, "password": helmPassword})
	h.create(helmRepository("lib", srv.URL()+"/", func(s *sourcev1.HelmRepositorySpec) {
		s.SecretRef = &meta.LocalObjectReference{Name: "auth"}
	}))
	app := helmChart("app", "charts/app", sourcev1.GitRepositoryKind, "charts")
	h.create(app)
	h.ready(app)
	file := t.TempDir() + "/chart.tgz"
	if err := fetchFile(app.Status.Artifact, file); err != nil {
		t.Fatal(err)
	}
	ch, err := chart.LoadArchiveFile(context.Background(), file, chart.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if deps := ch.Dependencies(); len(deps) != 1 || deps[0].Name() != "lib" || deps[0].Metadata.Version != "0.2.0" {
		t.Errorf("packaged dependencies %v, want lib 0.2.0", deps)
	}
	for _, s := range append(events.all(), msg) {
		if strings.Contains(s, helmPassword) {
			t.Errorf("the password leaked: %s", s)
		}
	}
}
