package gitopsctl

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/helmutil/helmtest"
)

// HelmRepositories and HelmCharts are in the table of kinds: get (with
// their columns and among the sources, under Flux's "sources helm" and
// "sources chart" too), suspend and export.
func TestHelmSources(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	hr := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "charts"},
		Spec:       sourcev1.HelmRepositorySpec{URL: "http://127.0.0.1:1/charts", Interval: metav1.Duration{Duration: time.Hour}},
	}
	hc := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: sourcev1.HelmChartSpec{
			Chart: "podinfo", Version: "6.x", Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
		},
	}
	if err := env.Client().Create(ctx, hr); err != nil {
		t.Fatal(err)
	}
	if err := env.Client().Create(ctx, hc); err != nil {
		t.Fatal(err)
	}
	c := newCtl(t)
	expect(t, c.run("get", "helmrepositories", "-n", ns, "-o", "wide"), ExitOK, "NAME", "URL", "TYPE", "charts", "http://127.0.0.1:1/charts", "default")
	expect(t, c.run("get", "sources", "chart", "-n", ns, "-o", "wide"), ExitOK, "CHART", "VERSION", "SOURCE", "app", "podinfo", "6.x", "charts")
	expect(t, c.run("get", "sources", "-n", ns), ExitOK, "helmrepository/charts", "helmchart/app")
	expect(t, c.run("suspend", "hc", "app", "-n", ns), ExitOK)
	expect(t, c.run("export", "helmchart", "app", "-n", ns), ExitOK, "kind: HelmChart", "chart: podinfo", "suspend: true")
	expect(t, c.run("export", "source", "helm", "charts", "-n", ns), ExitOK, "kind: HelmRepository", "url: http://127.0.0.1:1/charts")
}

// reconcile --with-source on a HelmChart asks gitopsd to reconcile its
// HelmRepository first, then the chart, which ends at the new version the
// repository's new index offers.
func TestHelmChartReconcileWithSource(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	ctx := context.Background()
	srv := helmtest.NewServer(t, t.TempDir())
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}))
	for _, o := range []client.Object{
		&sourcev1.HelmRepository{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "charts"},
			Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL(), Interval: metav1.Duration{Duration: time.Hour}},
		},
		&sourcev1.HelmChart{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
			Spec: sourcev1.HelmChartSpec{
				Chart: "app", Interval: metav1.Duration{Duration: time.Hour},
				SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			},
		},
	} {
		if err := env.Client().Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	c := newCtl(t)
	expect(t, c.run("reconcile", "hc", "app", "-n", ns, "--with-source"), ExitOK, "HelmChart "+ns+"/app reconciled in", "1.0.0")
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.1.0"}))
	expect(t, c.run("reconcile", "hc", "app", "-n", ns, "--with-source"), ExitOK,
		"HelmRepository "+ns+"/charts reconciled in", "HelmChart "+ns+"/app reconciled in", "1.1.0")
}
