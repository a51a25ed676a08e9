package controller_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
)

// newKustomization creates a Kustomization named name in ns.
func newKustomization(t *testing.T, ns, name string) *kustomizev1.Kustomization {
	t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: time.Minute},
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "src"},
		},
	}
	if err := env.Client().Create(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	return k
}

// markReady writes Ready=True at k's generation, as its reconciler would.
func markReady(t *testing.T, k *kustomizev1.Kustomization) {
	t.Helper()
	k.Status.ObservedGeneration = k.Generation
	conditions.MarkTrue(k, conditions.Ready, "Succeeded", "Applied revision: main@sha1:1")
	if err := env.Client().Status().Update(t.Context(), k); err != nil {
		t.Fatal(err)
	}
}

// The rules every dependent kind shares, on the API server: missing and
// not-ready dependencies wait (requeued after the given interval), ready
// ones pass, a readyExpr replaces the built-in check, and what retrying
// cannot fix stalls — a denied namespace, an invalid expression, a kind
// this gitopsd does not serve.
func TestDependenciesCheck(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns, other := env.Namespace(t), env.Namespace(t)
	self := newKustomization(t, ns, "app")
	d := controllers.Dependencies{Client: env.Client(), Scheme: env.Client().Scheme(), ACL: acl.AllowAll()}
	check := func(deps ...meta.DependencyReference) error {
		return d.Check(ctx, self, kustomizev1.KustomizationKind, deps, 7*time.Second)
	}
	wantWait := func(what string, err error, msg string) {
		t.Helper()
		var w *reconcile.WaitError
		if !errors.As(err, &w) || w.Reason != conditions.DependencyNotReadyReason || w.RequeueAfter != 7*time.Second || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want a DependencyNotReady wait after 7s saying %q", what, err, msg)
		}
	}
	wantStall := func(what string, err error, reason, msg string) {
		t.Helper()
		var s *reconcile.StalledError
		if !errors.As(err, &s) || s.Reason != reason || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want stalled with %s saying %q", what, err, reason, msg)
		}
	}

	wantWait("missing", check(meta.DependencyReference{Name: "db"}), fmt.Sprintf("dependency '%s/db' not found", ns))
	db := newKustomization(t, ns, "db")
	wantWait("not ready", check(meta.DependencyReference{Name: "db"}), fmt.Sprintf("dependency '%s/db' is not ready", ns))
	// The kind named explicitly is the same object, and the same message.
	wantWait("not ready, kind named", check(meta.DependencyReference{Kind: "Kustomization", Name: "db"}), fmt.Sprintf("dependency '%s/db' is not ready", ns))
	markReady(t, db)
	if err := check(meta.DependencyReference{Name: "db"}); err != nil {
		t.Errorf("ready: %v", err)
	}

	// A readyExpr replaces the built-in check: it sees the dependent as self.
	newKustomization(t, other, "infra")
	expr := meta.DependencyReference{Name: "infra", Namespace: other, ReadyExpr: "self.metadata.name == 'app' && dep.metadata.name == 'infra'"}
	if err := check(expr); err != nil {
		t.Errorf("readyExpr true on a dependency that is not Ready: %v", err)
	}
	wantStall("invalid readyExpr", check(meta.DependencyReference{Name: "db", ReadyExpr: "dep.("}), controllers.DependencyInvalidReason, fmt.Sprintf("dependsOn '%s/db'", ns))

	// A dependency of another kind this gitopsd does not serve (the test's
	// scheme has no HelmRelease) cannot be waited for.
	wantStall("unserved kind", check(meta.DependencyReference{Kind: "HelmRelease", Name: "cache"}), controllers.DependencyInvalidReason,
		fmt.Sprintf("dependsOn 'HelmRelease/%s/cache': kind HelmRelease is not served", ns))

	// The cross-namespace policy decides before anything is read.
	d.ACL = acl.DenyCrossNamespace()
	wantStall("denied namespace", check(meta.DependencyReference{Name: "db"}, meta.DependencyReference{Name: "infra", Namespace: other}),
		controllers.DependencyAccessDeniedReason, fmt.Sprintf("dependsOn '%s/infra'", other))
	if err := check(meta.DependencyReference{Name: "db"}); err != nil {
		t.Errorf("same namespace under DenyCrossNamespace: %v", err)
	}

	// The first dependency that is not ready is the one named.
	d.ACL = acl.AllowAll()
	wantWait("second of two", check(meta.DependencyReference{Name: "db"}, meta.DependencyReference{Name: "infra", Namespace: other}), fmt.Sprintf("dependency '%s/infra' is not ready", other))
}

func TestDependencyIndexKeys(t *testing.T) {
	t.Parallel()
	got := controllers.DependencyIndexKeys("HelmRelease", "apps", []meta.DependencyReference{
		{Name: "db"}, {Kind: "Kustomization", Name: "crds", Namespace: "platform"}, {Kind: "HelmRelease", Name: "cache"},
	})
	want := []string{"HelmRelease/apps/db", "Kustomization/platform/crds", "HelmRelease/apps/cache"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if k := controllers.DependencyKey("Kustomization", "platform", "crds"); k != want[1] {
		t.Errorf("DependencyKey = %q, want %q", k, want[1])
	}
}

func TestBecameReady(t *testing.T) {
	t.Parallel()
	ks := func(ready bool, gen, observed int64, msg string) client.Object {
		k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Generation: gen}}
		st := metav1.ConditionFalse
		if ready {
			st = metav1.ConditionTrue
		}
		k.Status.Conditions = []metav1.Condition{{Type: conditions.Ready, Status: st, ObservedGeneration: observed, Reason: "R", Message: msg}}
		return k
	}
	p := controllers.BecameReady()
	cases := []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"turned ready", ks(false, 1, 1, "failed"), ks(true, 1, 1, "Applied revision: r1"), true},
		{"new revision while ready", ks(true, 1, 1, "Applied revision: r1"), ks(true, 1, 1, "Applied revision: r2"), true},
		{"still ready", ks(true, 1, 1, "Applied revision: r1"), ks(true, 1, 1, "Applied revision: r1"), false},
		{"ready for an old generation", ks(false, 2, 1, ""), ks(true, 2, 1, "Applied revision: r1"), false},
		{"turned not ready", ks(true, 1, 1, "Applied revision: r1"), ks(false, 1, 1, "failed"), false},
		{"an object without conditions", &corev1.ConfigMap{}, &corev1.ConfigMap{}, false},
	}
	for _, tc := range cases {
		if got := p.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: Update = %v, want %v", tc.name, got, tc.want)
		}
	}
	if p.Create(event.CreateEvent{Object: ks(true, 1, 1, "")}) || p.Delete(event.DeleteEvent{Object: ks(true, 1, 1, "")}) {
		t.Error("Create and Delete: want false")
	}
}

func TestServedDependencyKinds(t *testing.T) {
	t.Parallel()
	var got []string
	for _, k := range controllers.ServedDependencyKinds(env.Client().Scheme()) {
		got = append(got, k.Kind)
	}
	// The test's scheme has Kustomizations and no HelmReleases.
	if diff := cmp.Diff([]string{"Kustomization"}, got); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}
