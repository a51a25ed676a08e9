package helm

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// TestHelmReleaseInstallUpgradeAndSteadyState installs a chart, upgrades
// it when the values change and when a new chart version is published,
// and checks that an unchanged reconcile (a reconcile request) makes no
// Helm action and no new revision, while a force request does.
func TestHelmReleaseInstallUpgradeAndSteadyState(t *testing.T) {
	f := newFixture(t)
	hc := f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("web", "app", func(h *helmv1.HelmRelease) { h.Spec.Values = inline("greeting", `"hi"`) })

	got := f.waitReady(hr, 1)
	if cm := f.configMap(f.ns, "web-config"); cm == nil || cm.Data["greeting"] != "hi" {
		t.Fatalf("installed ConfigMap %+v", cm)
	}
	if c := conditions.Get(got, helmv1.ReleasedCondition); c == nil || c.Reason != InstallSucceededReason {
		t.Fatalf("Released %+v", c)
	}
	l := got.Status.Latest()
	if l.ChartName != "app" || l.ChartVersion != "1.0.0" || l.Status != "deployed" || l.ConfigDigest == "" || got.Status.LastAttemptedValuesChecksum == "" {
		t.Fatalf("history %+v, status %+v", l, got.Status.Status)
	}
	if got.Status.Inventory == nil || len(got.Status.Inventory.Entries) != 1 || got.Status.Inventory.Entries[0].ID != f.ns+"_web-config__ConfigMap" {
		t.Fatalf("inventory %+v", got.Status.Inventory)
	}
	if got.Status.HelmChart != f.ns+"/app" || got.Status.StorageNamespace != f.ns || got.Status.LastAttemptedGeneration != got.Generation {
		t.Fatalf("status %+v", got.Status)
	}

	// Nothing changed: a reconcile request is handled without an action.
	token := f.request(hr, false, false)
	got = f.waitFor(hr, "request handled", func(h *helmv1.HelmRelease) bool { return h.Status.LastHandledReconcileAt == token })
	if n := f.revisions(f.ns, "web"); n != 1 || got.Status.Latest().Version != 1 || !conditions.IsReady(got) {
		t.Fatalf("an unchanged reconcile made a revision: %d records, %+v", n, got.Status.Latest())
	}

	// New values: an upgrade.
	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Values = inline("greeting", `"hey"`) })
	got = f.waitReady(hr, 2)
	if cm := f.configMap(f.ns, "web-config"); cm.Data["greeting"] != "hey" {
		t.Fatalf("greeting %q", cm.Data["greeting"])
	}
	if c := conditions.Get(got, helmv1.ReleasedCondition); c.Reason != UpgradeSucceededReason {
		t.Fatalf("Released %+v", c)
	}

	// A new chart version: an upgrade, seen through the HelmChart watch.
	f.setArtifact(hc, f.chartArtifact("app", "1.1.0", nil, nil))
	got = f.waitReady(hr, 3)
	if got.Status.Latest().ChartVersion != "1.1.0" || len(got.Status.History) != 3 {
		t.Fatalf("history %+v", got.Status.History)
	}

	// Force: an upgrade although in sync.
	token = f.request(hr, true, false)
	got = f.waitFor(hr, "forced upgrade", func(h *helmv1.HelmRelease) bool {
		return h.Status.LastHandledReconcileAt == token && conditions.IsReady(h) && h.Status.Latest().Version == 4
	})
	if n := f.revisions(f.ns, "web"); n != 4 {
		t.Fatalf("%d records after the forced upgrade", n)
	}

	var reasons []string
	for _, e := range events.of(f.ns, "web") {
		if e.eventType == "Normal" {
			reasons = append(reasons, e.reason+" "+e.metadata["revision"])
		}
	}
	want := []string{"InstallSucceeded 1.0.0", "UpgradeSucceeded 1.0.0", "UpgradeSucceeded 1.1.0", "UpgradeSucceeded 1.1.0"}
	if len(reasons) != len(want) {
		t.Fatalf("Normal events %q, want %q", reasons, want)
	}
	for i := range want {
		if reasons[i] != want[i] {
			t.Fatalf("Normal events %q, want %q", reasons, want)
		}
	}
}

// TestHelmReleaseChartTemplate: spec.chart makes a HelmChart named
// <namespace>-<name>, labelled with its owner; the release is installed
// from the artifact the source controller publishes on it; a template
// change updates it; moving to a chartRef deletes it (and never the
// referenced HelmChart); deleting the HelmRelease uninstalls the release.
func TestHelmReleaseChartTemplate(t *testing.T) {
	f := newFixture(t)
	hr := f.helmRelease("tpl", "", func(h *helmv1.HelmRelease) {
		h.Spec.ChartRef = nil
		h.Spec.Chart = &helmv1.HelmChartTemplate{Spec: helmv1.HelmChartTemplateSpec{
			Chart: "app", Version: "1.x",
			SourceRef: helmv1.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
		}}
	})
	key := types.NamespacedName{Namespace: f.ns, Name: f.ns + "-tpl"}
	hc := &sourcev1.HelmChart{}
	deadline := time.Now().Add(30 * time.Second)
	for f.c.Get(context.Background(), key, hc) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no HelmChart %s", key)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if hc.Spec.Chart != "app" || hc.Spec.Version != "1.x" || hc.Spec.SourceRef.Name != "charts" || hc.Spec.Interval.Duration != time.Hour ||
		hc.Labels[OwnerNameLabel] != "tpl" || hc.Labels[OwnerNamespaceLabel] != f.ns {
		t.Fatalf("HelmChart %+v", hc)
	}
	f.waitNotReady(hr, ArtifactFailedReason)

	f.setArtifact(hc, f.chartArtifact("app", "1.2.0", nil, nil))
	f.waitReady(hr, 1)
	if f.configMap(f.ns, "tpl-config") == nil {
		t.Fatal("not installed")
	}

	// A change of the template updates the HelmChart.
	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Chart.Spec.Version = "2.x" })
	f.waitFor(hr, "HelmChart updated", func(*helmv1.HelmRelease) bool {
		return f.c.Get(context.Background(), key, hc) == nil && hc.Spec.Version == "2.x"
	})

	// Moving to a chartRef deletes the HelmChart gitopsd made.
	f.helmChart("other", f.chartArtifact("app", "1.3.0", nil, nil))
	f.update(hr, func(h *helmv1.HelmRelease) {
		h.Spec.Chart = nil
		h.Spec.ChartRef = &helmv1.CrossNamespaceSourceReference{Kind: sourcev1.HelmChartKind, Name: "other"}
	})
	f.waitFor(hr, "the made HelmChart deleted", func(h *helmv1.HelmRelease) bool {
		err := f.c.Get(context.Background(), key, &sourcev1.HelmChart{})
		return h.Status.HelmChart == f.ns+"/other" && err != nil && client.IgnoreNotFound(err) == nil
	})

	if err := f.c.Delete(context.Background(), hr); err != nil {
		t.Fatal(err)
	}
	f.waitGone(hr)
	if f.configMap(f.ns, "tpl-config") != nil || f.revisions(f.ns, "tpl") != 0 {
		t.Fatal("the release was not uninstalled")
	}
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: "other"}, &sourcev1.HelmChart{}); err != nil {
		t.Fatalf("the HelmChart of chartRef, not gitopsd's, was deleted: %v", err)
	}
}

// TestHelmReleaseSuspendedDeletionKeepsTheRelease: a HelmRelease deleted
// while suspended leaves its release installed.
func TestHelmReleaseSuspendedDeletionKeepsTheRelease(t *testing.T) {
	f := newFixture(t)
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("kept", "app", nil)
	f.waitReady(hr, 1)
	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Suspend = true })
	if err := f.c.Delete(context.Background(), hr); err != nil {
		t.Fatal(err)
	}
	f.waitGone(hr)
	if f.configMap(f.ns, "kept-config") == nil || f.revisions(f.ns, "kept") != 1 {
		t.Fatal("the release of a suspended HelmRelease was uninstalled")
	}
}

// TestHelmReleaseTargetAndStorageNamespace installs into targetNamespace
// with the records in storageNamespace, under the default release name
// <targetNamespace>-<name>.
func TestHelmReleaseTargetAndStorageNamespace(t *testing.T) {
	f := newFixture(t)
	target, storage := env.Namespace(t), env.Namespace(t)
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("ns", "app", func(h *helmv1.HelmRelease) {
		h.Spec.TargetNamespace, h.Spec.StorageNamespace = target, storage
	})
	got := f.waitReady(hr, 1)
	name := target + "-ns"
	if f.configMap(target, name+"-config") == nil || f.revisions(storage, name) != 1 || got.Status.StorageNamespace != storage {
		t.Fatalf("release %s not in %s stored in %s: %+v", name, target, storage, got.Status.Status)
	}
	if l := got.Status.Latest(); l.Name != name || l.Namespace != target {
		t.Fatalf("history %+v", l)
	}
}

// TestHelmReleaseChartRefOCIRepository installs the chart package an
// OCIRepository's artifact is (a chart layer copied as it is).
func TestHelmReleaseChartRefOCIRepository(t *testing.T) {
	f := newFixture(t)
	oci := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "chart"},
		Spec: sourcev1.OCIRepositorySpec{
			URL: "oci://registry.example.com/charts/app", Interval: metav1.Duration{Duration: time.Hour},
			LayerSelector: &sourcev1.OCILayerSelector{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Operation: sourcev1.OCILayerCopy},
		},
	}
	if err := f.c.Create(context.Background(), oci); err != nil {
		t.Fatal(err)
	}
	f.setArtifact(oci, f.chartArtifact("app", "2.0.0", nil, nil))
	hr := f.helmRelease("oci", "", func(h *helmv1.HelmRelease) {
		h.Spec.ChartRef = &helmv1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "chart"}
	})
	got := f.waitReady(hr, 1)
	if got.Status.Latest().ChartVersion != "2.0.0" || got.Status.HelmChart != "" || f.configMap(f.ns, "oci-config") == nil {
		t.Fatalf("status %+v", got.Status)
	}
}

// TestHelmReleaseServiceAccount installs as spec.serviceAccountName: an
// account bound to edit in the namespace can; the release's objects are
// written by it.
func TestHelmReleaseServiceAccount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sa := &corev1.ServiceAccount{}
	sa.Namespace, sa.Name = f.ns, "deployer"
	if err := f.c.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	bindAdmin(t, f.ns, "deployer")
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("sa", "app", func(h *helmv1.HelmRelease) { h.Spec.ServiceAccountName = "deployer" })
	f.waitReady(hr, 1)
	if f.configMap(f.ns, "sa-config") == nil {
		t.Fatal("not installed")
	}
}
