package gitopsctl

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// HelmReleases are listed (by hr too), suspended, resumed and exported
// from the table of kinds.
func TestHelmRelease(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	hr := &helmv1.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "podinfo"},
		Spec: helmv1.HelmReleaseSpec{
			ChartRef:    &helmv1.CrossNamespaceSourceReference{Kind: sourcev1.HelmChartKind, Name: "podinfo-chart"},
			ReleaseName: "web",
			Interval:    metav1.Duration{Duration: time.Hour},
		},
	}
	if err := env.Client().Create(context.Background(), hr); err != nil {
		t.Fatal(err)
	}
	c := newCtl(t)
	r := c.run("get", "helmreleases", "-n", ns, "-o", "wide")
	expect(t, r, ExitOK, "NAME", "CHARTREF", "RELEASE", "podinfo", "podinfo-chart", "web")
	expect(t, c.run("suspend", "hr", "podinfo", "-n", ns), ExitOK)
	r = c.run("export", "hr", "podinfo", "-n", ns)
	expect(t, r, ExitOK, "kind: HelmRelease", "releaseName: web", "suspend: true")
	expect(t, c.run("resume", "hr", "podinfo", "-n", ns, "--wait=false"), ExitOK)
	r = c.run("export", "helmrelease", "podinfo", "-n", ns)
	expect(t, r, ExitOK, "kind: HelmRelease")
}
