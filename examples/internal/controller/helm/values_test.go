package helm

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
)

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
