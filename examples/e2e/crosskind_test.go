package e2e_test

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// Dependencies across kinds, in both directions, with the whole gitopsd:
// a HelmRelease waits for the Kustomization that lays down its platform,
// and a Kustomization waits for that HelmRelease. Nothing of a dependent
// is applied while its dependency is missing or not ready, and each goes
// ahead as soon as its dependency is Ready — woken by the dependency's
// watch, not by its retry interval (an hour here).
func TestDependsOnAcrossKinds(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("platform.git")
	c := repo.Commit("main", "layers", map[string]string{
		"platform/base.yaml": cm("platform", "ready"),
		"apps/app.yaml":      cm("app", "uses the database"),
	})
	rev := "main@sha1:" + c

	charts := helmtest.NewServer(t, t.TempDir())
	charts.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "db", Version: "1.0.0",
		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  version: {{ .Chart.Version | quote }}\n"}}))
	helmRepo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts"},
		Spec:       sourcev1.HelmRepositorySpec{URL: charts.URL(), Interval: metav1.Duration{Duration: time.Hour}},
	}
	src := gitRepository("platform", srv.HTTPURL("platform.git"))
	hour := &metav1.Duration{Duration: time.Hour}
	db := &helmv1.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: helmv1.HelmReleaseSpec{
			Chart: &helmv1.HelmChartTemplate{Spec: helmv1.HelmChartTemplateSpec{
				Chart: "db", Version: "1.x",
				SourceRef: helmv1.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			Interval:      metav1.Duration{Duration: time.Hour},
			RetryInterval: hour,
			DependsOn:     []meta.DependencyReference{{Kind: meta.DependencyKustomization, Name: "platform"}},
		},
	}
	apps := kustomization("apps", f.ns, src, "./apps")
	apps.Spec.RetryInterval = hour
	apps.Spec.DependsOn = []meta.DependencyReference{{Kind: meta.DependencyHelmRelease, Name: "db"}}
	f.create(helmRepo, src, db, apps)

	// Both wait, each naming what it waits for, kind included when it is
	// not its own.
	msg := f.notReady(db, fmt.Sprintf("dependency 'Kustomization/%s/platform' not found", f.ns))
	t.Logf("HelmRelease while the Kustomization is missing: %s", msg)
	msg = f.notReady(apps, fmt.Sprintf("dependency 'HelmRelease/%s/db' is not ready", f.ns))
	t.Logf("Kustomization while the HelmRelease waits: %s", msg)
	if f.configMapData(f.ns, "db-db") != nil || f.configMapData(f.ns, "app") != nil {
		t.Fatal("a dependent was applied before its dependency was ready")
	}

	platform := kustomization("platform", f.ns, src, "./platform")
	f.create(platform)
	f.applied(platform, rev)
	f.eventually(db, func() bool {
		return conditions.IsReady(db) && db.Status.ObservedGeneration == db.Generation
	}, func() string { return conds(db.Status.Conditions) })
	f.applied(apps, rev)
	if f.configMapData(f.ns, "db-db")["version"] != "1.0.0" || f.configMapData(f.ns, "app") == nil {
		t.Fatal("objects missing once every dependency is Ready")
	}

	readyAt := func(g conditions.Getter) time.Time {
		if c := conditions.Get(g, conditions.Ready); c != nil {
			return c.LastTransitionTime.Time
		}
		return time.Time{}
	}
	if readyAt(db).Before(readyAt(platform)) || readyAt(apps).Before(readyAt(db)) {
		t.Errorf("Ready order: platform %s, db %s, apps %s; want platform ≤ db ≤ apps",
			readyAt(platform).Format(time.StampMilli), readyAt(db).Format(time.StampMilli), readyAt(apps).Format(time.StampMilli))
	}
	t.Logf("platform Ready → db Ready %s → apps Ready %s", readyAt(db).Sub(readyAt(platform)), readyAt(apps).Sub(readyAt(db)))
}
