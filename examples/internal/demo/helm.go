package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/helm"
)

// Names of the Helm step.
const (
	chartsRepo  = "charts.git" // the git repository holding the chart
	helmName    = "hello"      // the GitRepository of the chart and the HelmRelease
	helmValues  = "hello-values"
	helmOutName = "hello-greeting" // the ConfigMap the chart renders, in AppNamespace
)

// helloChart is a chart in a git repository: one ConfigMap saying
// .Values.greeting.
var helloChart = map[string][]byte{
	"hello/Chart.yaml":  []byte("apiVersion: v2\nname: hello\nversion: 0.1.0\nappVersion: \"1.0\"\n"),
	"hello/values.yaml": []byte("greeting: hello from the chart\n"),
	"hello/templates/configmap.yaml": []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: ` + helmOutName + `
data:
  greeting: {{ .Values.greeting | quote }}
`),
}

// helmValuesManifest is the ConfigMap of the HelmRelease's valuesFrom, in
// the demo's repository: the Kustomization applies it, and its watch
// label makes the HelmRelease upgrade as soon as it changes.
func helmValuesManifest(greeting string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  namespace: %s
  labels:
    %s: %s
data:
  values.yaml: |
    greeting: %q
`, helmValues, Namespace, helm.WatchLabel, helm.WatchLabelValue, greeting)
}

// helmRelease installs a chart from a git repository with values from the
// demo's repository, then upgrades it by a values change pushed to git.
func (d *demo) helmRelease(ctx context.Context) (func() error, error) {
	t0 := time.Now()
	d.gitSrv.InitRepository(chartsRepo)
	remote, err := gogit.New(d.gitSrv.HTTPURL(chartsRepo))
	if err != nil {
		return nil, err
	}
	work := filepath.Join(d.tmp, "charts")
	if err := remote.Init(ctx, work, branch); err != nil {
		return nil, err
	}
	hash, err := remote.Commit(ctx, work, gogit.CommitOptions{
		Author: git.Signature{Name: "Demo", Email: "demo@gitopskit.dev"}, Message: "Add the hello chart", Files: helloChart,
	})
	if err != nil {
		return nil, err
	}
	if err := remote.Push(ctx, work, gogit.PushOptions{}); err != nil {
		return nil, err
	}
	d.printf("\n→ pushed chart hello 0.1.0 to %s as %s; pushing its values (ConfigMap %s/%s, label %s=%s) to the demo repository\n",
		d.gitSrv.HTTPURL(chartsRepo), short(git.Revision(branch, hash)), Namespace, helmValues, helm.WatchLabel, helm.WatchLabelValue)
	rev, err := d.push(ctx, "Add the hello chart's values", map[string][]byte{"helm-values.yaml": helmValuesManifest("hello from git")}, nil)
	if err != nil {
		return nil, err
	}
	if err := d.gitopsctl(ctx, reconcileArgs...); err != nil {
		return nil, err
	}
	if _, err := d.waitApplied(ctx, rev); err != nil {
		return nil, err
	}

	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: helmName, Namespace: Namespace},
		Spec: sourcev1.GitRepositorySpec{
			URL: d.gitSrv.HTTPURL(chartsRepo), Reference: &sourcev1.GitRepositoryRef{Branch: branch},
			Interval: metav1.Duration{Duration: 10 * time.Minute},
		},
	}
	hr := &helmv1.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: helmName, Namespace: Namespace},
		Spec: helmv1.HelmReleaseSpec{
			Chart: &helmv1.HelmChartTemplate{Spec: helmv1.HelmChartTemplateSpec{
				Chart:     "./hello",
				SourceRef: helmv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: helmName},
			}},
			Interval:        metav1.Duration{Duration: 10 * time.Minute},
			TargetNamespace: AppNamespace,
			ValuesFrom:      []helmv1.ValuesReference{{Kind: "ConfigMap", Name: helmValues}},
		},
	}
	d.printf("→ creating GitRepository %s/%s and HelmRelease %s/%s (chart ./hello from it, values from ConfigMap %s)\n",
		Namespace, helmName, Namespace, helmName, helmValues)
	t1 := time.Now()
	for _, o := range []client.Object{repo, hr} {
		if err := d.c.Create(ctx, o); err != nil {
			return nil, err
		}
	}
	got, err := d.waitReleased(ctx, 1)
	if err != nil {
		return nil, err
	}
	d.res.HelmInstalled = time.Since(t1)
	if err := d.checkHelmGreeting(ctx, "hello from git"); err != nil {
		return nil, err
	}
	l := got.Status.Latest()
	d.printf("✓ HelmRelease %s Ready %s after its creation: release %s/%s revision %d, chart %s %s (HelmChart %s)\n",
		helmName, round(d.res.HelmInstalled), l.Namespace, l.Name, l.Version, l.ChartName, l.ChartVersion, got.Status.HelmChart)

	d.printf("→ pushing a values change: greeting \"hello from git\" → \"hello again\"\n")
	rev, err = d.push(ctx, "Greet again", map[string][]byte{"helm-values.yaml": helmValuesManifest("hello again")}, nil)
	if err != nil {
		return nil, err
	}
	pushed := time.Now()
	if err := d.gitopsctl(ctx, reconcileArgs...); err != nil {
		return nil, err
	}
	if got, err = d.waitReleased(ctx, 2); err != nil {
		return nil, err
	}
	d.res.HelmUpgradeLatency = time.Since(pushed)
	if err := d.checkHelmGreeting(ctx, "hello again"); err != nil {
		return nil, err
	}
	d.printf("✓ %s released %s after the push: the Kustomization applied the values, the HelmRelease upgraded to revision %d (%s in all)\n",
		short(rev), round(d.res.HelmUpgradeLatency), got.Status.Latest().Version, since(t0))
	return nil, nil
}

// waitReleased waits until the HelmRelease is Ready at revision version.
func (d *demo) waitReleased(ctx context.Context, version int) (*helmv1.HelmRelease, error) {
	hr := &helmv1.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: helmName, Namespace: Namespace}}
	show := d.progress("HelmRelease "+helmName, version > 1)
	err := d.waitFor(ctx, hr, &helmv1.HelmReleaseList{}, func() bool {
		show(hr.Status.Conditions)
		l := hr.Status.Latest()
		return conditions.IsReady(hr) && hr.Status.ObservedGeneration == hr.Generation && l != nil && l.Version == version
	})
	return hr, err
}

func (d *demo) checkHelmGreeting(ctx context.Context, want string) error {
	cm := &corev1.ConfigMap{}
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: AppNamespace, Name: helmOutName}, cm); err != nil {
		return err
	}
	if got := cm.Data["greeting"]; got != want {
		return fmt.Errorf("ConfigMap %s/%s greeting = %q, want %q", AppNamespace, helmOutName, got, want)
	}
	return nil
}
