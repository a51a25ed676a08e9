package e2e_test

import (
	"fmt"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// helmTemplate renders a ConfigMap naming the chart version.
const helmTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  version: {{ .Chart.Version | quote }}
  greeting: {{ .Values.greeting | quote }}
`

// The whole gitopsd against a real chart repository (helmutil/helmtest):
// a HelmRepository and a HelmRelease whose spec.chart makes the HelmChart
// install the chart; a new chart version in the repository, once the
// index is fetched again, upgrades the release.
func TestHelmReleaseFromHelmRepository(t *testing.T) {
	f := newFixture(t)
	srv := helmtest.NewServer(t, t.TempDir())
	chart := func(version string) {
		srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{
			Name: "podinfo", Version: version, Values: "greeting: hello\n",
			Templates: map[string]string{"cm.yaml": helmTemplate},
		}))
	}
	chart("1.0.0")
	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts"},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL(), Interval: metav1.Duration{Duration: time.Hour}},
	}
	hr := &helmv1.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo"},
		Spec: helmv1.HelmReleaseSpec{
			Chart: &helmv1.HelmChartTemplate{Spec: helmv1.HelmChartTemplateSpec{
				Chart: "podinfo", Version: "1.x",
				SourceRef: helmv1.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			Interval: metav1.Duration{Duration: time.Hour},
			Values:   &apiextensionsv1.JSON{Raw: []byte(`{"greeting":"hi"}`)},
		},
	}
	f.create(repo, hr)
	released := func(version int, chartVersion string) {
		t.Helper()
		f.eventually(hr, func() bool {
			l := hr.Status.Latest()
			return conditions.IsReady(hr) && hr.Status.ObservedGeneration == hr.Generation && l != nil &&
				l.Version == version && l.ChartVersion == chartVersion
		}, func() string {
			return fmt.Sprintf("want revision %d of chart %s; history %+v conditions %s", version, chartVersion, hr.Status.History, conds(hr.Status.Conditions))
		})
	}
	released(1, "1.0.0")
	if d := f.configMapData(f.ns, "podinfo-config"); d["version"] != "1.0.0" || d["greeting"] != "hi" {
		t.Fatalf("installed ConfigMap %v", d)
	}
	if hr.Status.HelmChart != f.ns+"/"+f.ns+"-podinfo" {
		t.Fatalf("HelmChart %q", hr.Status.HelmChart)
	}

	chart("1.1.0")
	f.request(repo)
	released(2, "1.1.0")
	if d := f.configMapData(f.ns, "podinfo-config"); d["version"] != "1.1.0" {
		t.Fatalf("upgraded ConfigMap %v", d)
	}
}
