package helm

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// TestHelmReleaseDrift: with drift detection warn, a ConfigMap edited by
// hand is reported (Drifted=True, Ready=True, a Warning event) and left;
// with enabled it is put back without a new revision.
func TestHelmReleaseDrift(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("drift", "app", func(h *helmv1.HelmRelease) {
		h.Spec.Values = inline("greeting", `"hi"`)
		h.Spec.DriftDetection = &helmv1.DriftDetection{Mode: "warn"}
	})
	f.waitReady(hr, 1)
	cm := f.configMap(f.ns, "drift-config")
	cm.Data["greeting"] = "edited"
	if err := f.c.Update(ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}

	token := f.request(hr, false, false)
	got := f.waitFor(hr, "drift reported", func(h *helmv1.HelmRelease) bool {
		return h.Status.LastHandledReconcileAt == token && conditions.IsTrue(h, helmv1.DriftedCondition)
	})
	if !conditions.IsReady(got) || f.configMap(f.ns, "drift-config").Data["greeting"] != "edited" {
		t.Fatalf("warn mode: conditions %+v", got.Status.Conditions)
	}
	warned := false
	for _, e := range events.of(f.ns, "drift") {
		warned = warned || (e.eventType == corev1.EventTypeWarning && e.reason == DriftDetectedReason)
	}
	if !warned {
		t.Fatal("no DriftDetected event")
	}

	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.DriftDetection.Mode = "enabled" })
	got = f.waitFor(hr, "drift corrected", func(h *helmv1.HelmRelease) bool {
		return h.Status.ObservedGeneration == h.Generation && conditions.IsReady(h) && !conditions.Has(h, helmv1.DriftedCondition)
	})
	if g := f.configMap(f.ns, "drift-config").Data["greeting"]; g != "hi" {
		t.Fatalf("greeting %q after the correction", g)
	}
	if got.Status.Latest().Version != 1 || f.revisions(f.ns, "drift") != 1 {
		t.Fatalf("the correction made a revision: %+v", got.Status.Latest())
	}
	corrected := false
	for _, e := range events.of(f.ns, "drift") {
		corrected = corrected || e.reason == DriftCorrectedReason
	}
	if !corrected {
		t.Fatal("no DriftCorrected event")
	}
}

// TestHelmReleaseDriftIgnoreRules: a field an ignore rule names is not
// drift and keeps its live value.
func TestHelmReleaseDriftIgnoreRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("ign", "app", func(h *helmv1.HelmRelease) {
		h.Spec.DriftDetection = &helmv1.DriftDetection{Mode: "enabled", Ignore: []kustomizev1.DriftIgnoreRule{{Paths: []string{"/data/greeting"}}}}
	})
	f.waitReady(hr, 1)
	cm := f.configMap(f.ns, "ign-config")
	cm.Data["greeting"] = "edited"
	if err := f.c.Update(ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	token := f.request(hr, false, false)
	got := f.waitFor(hr, "request handled", func(h *helmv1.HelmRelease) bool { return h.Status.LastHandledReconcileAt == token })
	if !conditions.IsReady(got) || conditions.Has(got, helmv1.DriftedCondition) || f.configMap(f.ns, "ign-config").Data["greeting"] != "edited" {
		t.Fatalf("an ignored field was drift: %+v", got.Status.Conditions)
	}
}
