package helm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/runtime/conditions"

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

// TestHelmReleaseValuesFromWatch: a labelled ConfigMap of valuesFrom
// triggers an upgrade when it changes; a Secret's value set at a target
// path is used and never shown; an unlabelled ConfigMap's change waits for
// the next reconcile.
func TestHelmReleaseValuesFromWatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	watched := &corev1.ConfigMap{}
	watched.Namespace, watched.Name = f.ns, "watched"
	watched.Labels = map[string]string{WatchLabel: WatchLabelValue}
	watched.Data = map[string]string{"values.yaml": "greeting: one\n"}
	plain := &corev1.ConfigMap{}
	plain.Namespace, plain.Name = f.ns, "plain"
	plain.Data = map[string]string{"values.yaml": "other: x\n"}
	for _, o := range []client.Object{watched, plain} {
		if err := f.c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("vals", "app", func(h *helmv1.HelmRelease) {
		h.Spec.ValuesFrom = []helmv1.ValuesReference{{Kind: "ConfigMap", Name: "watched"}, {Kind: "ConfigMap", Name: "plain"}}
	})
	f.waitReady(hr, 1)
	if g := f.configMap(f.ns, "vals-config").Data["greeting"]; g != "one" {
		t.Fatalf("greeting %q", g)
	}

	watched.Data["values.yaml"] = "greeting: two\n"
	if err := f.c.Update(ctx, watched); err != nil {
		t.Fatal(err)
	}
	f.waitReady(hr, 2)
	if g := f.configMap(f.ns, "vals-config").Data["greeting"]; g != "two" {
		t.Fatalf("greeting %q after the watched change", g)
	}

	plain.Data["values.yaml"] = "greeting: three\n"
	if err := f.c.Update(ctx, plain); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a watch event would have been handled by now
	if got := f.waitReady(hr, 0); got.Status.Latest().Version != 2 {
		t.Fatalf("an unwatched ConfigMap triggered an upgrade: %+v", got.Status.Latest())
	}
	token := f.request(hr, false, false)
	f.waitFor(hr, "upgraded on request", func(h *helmv1.HelmRelease) bool {
		return h.Status.LastHandledReconcileAt == token && conditions.IsReady(h) && h.Status.Latest().Version == 3
	})
	if g := f.configMap(f.ns, "vals-config").Data["greeting"]; g != "three" {
		t.Fatalf("greeting %q", g)
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

// TestHelmReleaseValuesFromWatchedSecret: a labelled Secret of valuesFrom
// upgrades the release as soon as it changes, its value set at a target
// path.
func TestHelmReleaseValuesFromWatchedSecret(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sec := &corev1.Secret{}
	sec.Namespace, sec.Name = f.ns, "greeting"
	sec.Labels = map[string]string{WatchLabel: WatchLabelValue}
	sec.StringData = map[string]string{"word": "s3cret-one"}
	if err := f.c.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("secret", "app", func(h *helmv1.HelmRelease) {
		h.Spec.ValuesFrom = []helmv1.ValuesReference{{Kind: "Secret", Name: "greeting", ValuesKey: "word", TargetPath: "greeting"}}
	})
	f.waitReady(hr, 1)
	if g := f.configMap(f.ns, "secret-config").Data["greeting"]; g != "s3cret-one" {
		t.Fatalf("greeting %q", g)
	}
	if err := f.c.Get(ctx, client.ObjectKeyFromObject(sec), sec); err != nil {
		t.Fatal(err)
	}
	sec.Data = map[string][]byte{"word": []byte("s3cret-two")}
	if err := f.c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	got := f.waitReady(hr, 2)
	if g := f.configMap(f.ns, "secret-config").Data["greeting"]; g != "s3cret-two" {
		t.Fatalf("greeting %q after the Secret changed", g)
	}
	for _, c := range got.Status.Conditions {
		if strings.Contains(c.Message, "s3cret") {
			t.Fatalf("condition %s shows the Secret's value: %q", c.Type, c.Message)
		}
	}
}
