package helm

import (
	"context"
	"errors"
	"testing"
	"time"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// helmStorage is Helm's record storage (Secrets) of namespace ns.
func helmStorage(t testing.TB, ns string) *storage.Storage {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	return storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(ns)))
}

// TestHelmReleaseKilledUpgradeRecovered leaves the release as a gitopsd
// killed mid-upgrade leaves it — a newer revision recorded pending-upgrade
// — and checks that the next reconcile unlocks it and upgrades, without a
// human.
func TestHelmReleaseKilledUpgradeRecovered(t *testing.T) {
	f := newFixture(t)
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("killed", "app", func(h *helmv1.HelmRelease) { h.Spec.Values = inline("greeting", `"v1"`) })
	f.waitReady(hr, 1)

	s := helmStorage(t, f.ns)
	last, err := s.Last("killed")
	if err != nil {
		t.Fatal(err)
	}
	pending := *last.(*rel.Release)
	info := *pending.Info
	pending.Info, pending.Version = &info, 2
	pending.Info.Status = rcommon.StatusPendingUpgrade
	if err := s.Create(&pending); err != nil {
		t.Fatal(err)
	}

	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Values = inline("greeting", `"v2"`) })
	got := f.waitReady(hr, 3)
	if got.Status.Latest().Status != "deployed" || got.Status.UpgradeFailures != 0 || got.Status.Failures != 0 {
		t.Fatalf("after recovery %+v", got.Status.Status)
	}
	if g := f.configMap(f.ns, "killed-config").Data["greeting"]; g != "v2" {
		t.Fatalf("greeting %q", g)
	}
}

// gateTemplate renders, when .Values.gate, a ConfigMap that is healthy
// only once something labels it "go" (healthCheckExprs below), so that an
// upgrade waits until the test lets it through.
const gateTemplate = `{{- if .Values.gate }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-gate
data:
  gate: "closed"
{{- end }}
`

// TestHelmReleaseCancelledUpgradeRecovered cancels a reconcile (gitopsd
// shutting down) while its upgrade waits: the reconcile returns promptly,
// Helm's record of the revision is failed, not pending, and the next
// reconcile — a restarted gitopsd — upgrades again and is Ready without a
// human.
func TestHelmReleaseCancelledUpgradeRecovered(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.helmChart("app", f.chartArtifact("app", "1.0.0", map[string]string{"cm.yaml": configMapTemplate, "gate.yaml": gateTemplate}, nil))
	hr := f.helmRelease("cancel", "app", func(h *helmv1.HelmRelease) {
		h.Labels = map[string]string{privateLabel: "true"}
		h.Spec.Values = inline("greeting", `"v1"`)
		h.Spec.Timeout = &metav1.Duration{Duration: 2 * time.Minute}
		h.Spec.HealthCheckExprs = []kustomizev1.CustomHealthCheck{{APIVersion: "v1", Kind: "ConfigMap",
			Current: `!has(self.data) || !has(self.data.gate) || (has(self.metadata.labels) && "go" in self.metadata.labels)`}}
	})
	req := crreconcile.Request{NamespacedName: client.ObjectKeyFromObject(hr)}
	// This test's own gitopsd, reconciling only when told to.
	first := newReconciler(env.Client(), env.Client())
	if err := first.init(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.waitReady(hr, 1)

	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Values = inline("greeting", `"v2"`, "gate", "true") })
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := first.Reconcile(rctx, req)
		done <- err
	}()
	for f.configMap(f.ns, "cancel-gate") == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Logf("the cancelled reconcile returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the reconcile did not return after its context was cancelled")
	}
	last, err := helmStorage(t, f.ns).Last("cancel")
	if err != nil {
		t.Fatal(err)
	}
	if r := last.(*rel.Release); r.Version != 2 || r.Info.Status != rcommon.StatusFailed {
		t.Fatalf("after the cancel, revision %d is %s", r.Version, r.Info.Status)
	}

	// Let the wait through, and restart: a new reconciler, as after a
	// restart of gitopsd.
	gate := f.configMap(f.ns, "cancel-gate")
	gate.Labels = map[string]string{"go": "yes"}
	if err := f.c.Update(ctx, gate); err != nil {
		t.Fatal(err)
	}
	second := newReconciler(env.Client(), env.Client())
	if err := second.init(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	got := f.waitReady(hr, 3)
	if got.Status.UpgradeFailures != 0 || f.configMap(f.ns, "cancel-config").Data["greeting"] != "v2" {
		t.Fatalf("after the restart %+v", got.Status.Status)
	}
}
