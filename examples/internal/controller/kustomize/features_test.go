package kustomize

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/reconcile"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// B depends on A: B waits with DependencyNotReady while A cannot apply, and
// is applied as soon as A becomes Ready (B's retry interval is an hour, so
// only the dependency watch can wake it).
func TestDependsOnOrder(t *testing.T) {
	f := newFixture(t)
	srcA := f.gitRepository("a", nil)
	b1 := f.artifact("b", map[string]string{"b.yaml": cm("b")})
	f.gitRepository("b", &b1)
	a := f.kustomization("a", "a", nil)
	b := f.kustomization("b", "b", func(s *kustomizev1.KustomizationSpec) {
		s.DependsOn = []meta.DependencyReference{{Name: "a"}}
		s.RetryInterval = &metav1.Duration{Duration: time.Hour}
	})

	got := f.waitNotReady(b, conditions.DependencyNotReadyReason, "")
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "dependency '"+f.ns+"/a' is not ready") {
		t.Errorf("Ready message = %q", msg)
	}
	if conditions.IsTrue(got, conditions.Stalled) {
		t.Error("a Kustomization waiting for a dependency is Stalled")
	}
	if f.configMap(f.ns, "b") != nil {
		t.Fatal("B applied before its dependency was ready")
	}

	a1 := f.artifact("a", map[string]string{"a.yaml": cm("a")})
	f.setArtifact(srcA, a1)
	f.waitReady(a, a1.Revision)
	f.waitReady(b, b1.Revision)
	f.mustConfigMap(f.ns, "b")
}

// A readyExpr replaces the built-in readiness check of a dependency.
func TestDependsOnReadyExpr(t *testing.T) {
	f := newFixture(t)
	art := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("app", &art)
	f.kustomization("a", "app", func(s *kustomizev1.KustomizationSpec) { s.Path = "missing" })
	b := f.kustomization("b", "app", func(s *kustomizev1.KustomizationSpec) {
		s.DependsOn = []meta.DependencyReference{{Name: "a", ReadyExpr: "dep.metadata.name == 'a'"}}
	})
	// a never becomes Ready (its path is wrong) but the expression holds.
	f.waitReady(b, art.Revision)
}

// postBuild substitutes variables from spec.postBuild.substitute and from
// ConfigMaps and Secrets; a missing ConfigMap fails the build unless
// optional.
func TestPostBuildSubstitution(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	art := f.artifact("app", map[string]string{
		"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars\ndata:\n  inline: ${inline}\n  fromcm: ${fromcm}\n  fromsecret: ${fromsecret}\n  defaulted: ${unset:=dflt}\n  override: ${override}\n",
	})
	f.gitRepository("app", &art)
	if err := f.c.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "vars"},
		Data:       map[string]string{"fromcm": "cm-value", "override": "from-cm"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "vars"},
		Data:       map[string][]byte{"fromsecret": []byte("s3cr3t-value")},
	}); err != nil {
		t.Fatal(err)
	}
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.PostBuild = &kustomizev1.PostBuild{
			Substitute: map[string]string{"inline": "inline-value", "override": "from-spec"},
			SubstituteFrom: []kustomizev1.SubstituteReference{
				{Kind: "ConfigMap", Name: "vars"},
				{Kind: "Secret", Name: "vars"},
				{Kind: "ConfigMap", Name: "absent", Optional: true},
			},
		}
	})
	f.waitReady(ks, art.Revision)
	want := map[string]string{"inline": "inline-value", "fromcm": "cm-value", "fromsecret": "s3cr3t-value", "defaulted": "dflt", "override": "from-spec"}
	got := f.mustConfigMap(f.ns, "vars").Data
	for k, v := range want {
		if got[k] != v {
			t.Errorf("data[%s] = %q, want %q", k, got[k], v)
		}
	}

	f.update(ks, func(k *kustomizev1.Kustomization) {
		k.Spec.PostBuild.SubstituteFrom = append(k.Spec.PostBuild.SubstituteFrom, kustomizev1.SubstituteReference{Kind: "ConfigMap", Name: "required"})
	})
	failed := f.waitNotReady(ks, BuildFailedReason, "")
	msg := conditions.Get(failed, conditions.Ready).Message
	if !strings.Contains(msg, "ConfigMap '"+f.ns+"/required' not found") {
		t.Errorf("Ready message = %q", msg)
	}
	if strings.Contains(msg, "s3cr3t") {
		t.Errorf("Ready message leaks a value: %q", msg)
	}
	f.mustConfigMap(f.ns, "vars")
}

// An impersonated service account without RBAC is refused; with a
// RoleBinding it applies.
func TestServiceAccountImpersonation(t *testing.T) {
	f := newFixture(t)
	art := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("app", &art)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) { s.ServiceAccountName = "deployer" })

	got := f.waitNotReady(ks, ApplyFailedReason, art.Revision)
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "forbidden") || !strings.Contains(msg, "system:serviceaccount:"+f.ns+":deployer") {
		t.Errorf("Ready message = %q", msg)
	}
	if f.configMap(f.ns, "a") != nil {
		t.Fatal("applied without RBAC")
	}

	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "deployer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "deployer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "deployer"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: f.ns, Name: "deployer"}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := f.c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	f.waitReady(ks, art.Revision)
	a := f.mustConfigMap(f.ns, "a")
	if !managedBy(a.ManagedFields, fieldManager) {
		t.Error("not applied by the gitopsd field manager")
	}

	// Deletion prunes as the service account too.
	if err := f.c.Delete(ctx, ks); err != nil {
		t.Fatal(err)
	}
	f.waitGone(f.ns, "a")
}

// wait and healthChecks bound by spec.timeout: an object that never gets
// ready makes Ready and Healthy False, and a newer revision is still
// applied afterwards.
func TestHealthChecks(t *testing.T) {
	f := newFixture(t)
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
`
	a1 := f.artifact("app", map[string]string{"a.yaml": cm("a"), "web.yaml": deployment})
	src := f.gitRepository("app", &a1)
	short := func(s *kustomizev1.KustomizationSpec) { s.Timeout = &metav1.Duration{Duration: 4 * time.Second} }

	// No controller-manager runs: the Deployment never becomes available.
	waiting := f.kustomization("wait", "app", func(s *kustomizev1.KustomizationSpec) {
		short(s)
		s.Wait = true
		s.NamePrefix = "w-"
	})
	checking := f.kustomization("checks", "app", func(s *kustomizev1.KustomizationSpec) {
		short(s)
		s.NamePrefix = "c-"
		s.HealthChecks = []meta.NamespacedObjectKindReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "c-a"}, {APIVersion: "v1", Kind: "ConfigMap", Name: "c-never"}}
	})
	for _, ks := range []*kustomizev1.Kustomization{waiting, checking} {
		got := f.waitNotReady(ks, HealthCheckFailedReason, a1.Revision)
		t.Logf("%s: %s", ks.Name, conditions.Get(got, conditions.Ready).Message)
		h := conditions.Get(got, meta.HealthyCondition)
		if h == nil || h.Status != metav1.ConditionFalse {
			t.Errorf("%s: Healthy = %+v, want False", ks.Name, h)
		}
		if got.Status.LastAppliedRevision != "" {
			t.Errorf("%s: lastAppliedRevision = %q after a failed health check", ks.Name, got.Status.LastAppliedRevision)
		}
	}

	// The next revision drops the Deployment and is applied and healthy.
	a2 := f.artifact("app", map[string]string{"a.yaml": cm("a"), "never.yaml": cm("never")})
	f.setArtifact(src, a2)
	for _, ks := range []*kustomizev1.Kustomization{waiting, checking} {
		got := f.waitReady(ks, a2.Revision)
		if !conditions.IsTrue(got, meta.HealthyCondition) {
			t.Errorf("%s: Healthy = %+v, want True", ks.Name, conditions.Get(got, meta.HealthyCondition))
		}
	}
}

// A suspended Kustomization is left alone, and its suspension shows in the
// metrics; resuming it applies.
func TestSuspend(t *testing.T) {
	f := newFixture(t)
	art := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("app", &art)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) { s.Suspend = true })
	// Once the suspension shows in the metrics, the controller has seen
	// the object; give it a moment more to act (it must not).
	f.wantMetric("gitopskit_suspend_status", series(ks), 1)
	time.Sleep(time.Second)
	if f.configMap(f.ns, "a") != nil {
		t.Fatal("a suspended Kustomization applied")
	}
	f.update(ks, func(k *kustomizev1.Kustomization) { k.Spec.Suspend = false })
	f.waitReady(ks, art.Revision)
	f.wantMetric("gitopskit_suspend_status", series(ks), 0)
}

// The reconcile-request annotation triggers a reconcile (the interval is
// an hour) and is recorded in status.lastHandledReconcileAt.
func TestReconcileRequest(t *testing.T) {
	f := newFixture(t)
	art := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("app", &art)
	ks := f.kustomization("app", "app", nil)
	f.waitReady(ks, art.Revision)

	// Drift: someone deletes an applied object.
	if err := f.c.Delete(context.Background(), f.mustConfigMap(f.ns, "a")); err != nil {
		t.Fatal(err)
	}
	f.waitGone(f.ns, "a")
	at := time.Now().Format(time.RFC3339Nano)
	f.update(ks, func(k *kustomizev1.Kustomization) {
		if k.Annotations == nil {
			k.Annotations = map[string]string{}
		}
		k.Annotations[reconcile.RequestedAtAnnotation] = at
	})
	f.waitFor(ks, "request handled", func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt == at && conditions.IsReady(k)
	})
	f.mustConfigMap(f.ns, "a")
}

// A missing source, or one without an artifact, is retried (not Stalled);
// a cross-namespace source is denied by the default policy (Stalled).
func TestSourceNotAvailable(t *testing.T) {
	f := newFixture(t)
	missing := f.kustomization("missing", "nowhere", nil)
	got := f.waitNotReady(missing, ArtifactFailedReason, "")
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "GitRepository '"+f.ns+"/nowhere' not found") {
		t.Errorf("Ready message = %q", msg)
	}
	if conditions.IsTrue(got, conditions.Stalled) || !conditions.IsTrue(got, conditions.Reconciling) {
		t.Errorf("missing source: want Reconciling, not Stalled: %+v", got.Status.Conditions)
	}

	f.gitRepository("empty", nil)
	empty := f.kustomization("empty", "empty", nil)
	got = f.waitNotReady(empty, ArtifactFailedReason, "")
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "has no artifact yet") {
		t.Errorf("Ready message = %q", msg)
	}

	other := f.kustomization("other", "app", func(s *kustomizev1.KustomizationSpec) { s.SourceRef.Namespace = "kube-system" })
	got = f.waitNotReady(other, AccessDeniedReason, "")
	if !conditions.IsTrue(got, conditions.Stalled) {
		t.Errorf("cross-namespace reference: want Stalled: %+v", got.Status.Conditions)
	}

	// The missing source appears: its watch wakes the Kustomization.
	art := f.artifact("nowhere", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("nowhere", &art)
	f.waitReady(missing, art.Revision)

	// A cross-namespace dependency is denied as well.
	dep := f.kustomization("dep", "nowhere", func(s *kustomizev1.KustomizationSpec) {
		s.NamePrefix = "dep-"
		s.DependsOn = []meta.DependencyReference{{Name: "infra", Namespace: "kube-system"}}
	})
	got = f.waitNotReady(dep, AccessDeniedReason, "")
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "dependsOn 'kube-system/infra'") || !conditions.IsTrue(got, conditions.Stalled) {
		t.Errorf("Ready message = %q, conditions %+v", msg, got.Status.Conditions)
	}
}

// An OCIRepository source is built like a GitRepository.
func TestOCIRepositorySource(t *testing.T) {
	f := newFixture(t)
	art := f.srv.Add(t, "ocirepository", f.ns, "app", writeTree(t, map[string]string{"a.yaml": cm("a")}), "latest@sha256:"+strings.Repeat("ab", 32))
	src := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "app"},
		Spec: sourcev1.OCIRepositorySpec{
			URL:      "oci://registry.example.com/app",
			Interval: metav1.Duration{Duration: time.Hour},
		},
	}
	if err := f.c.Create(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	f.setArtifact(src, art)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) { s.SourceRef.Kind = sourcev1.OCIRepositoryKind })
	f.waitReady(ks, art.Revision)
	f.mustConfigMap(f.ns, "a")
}

// A health check that cannot pass is cut short when the source publishes a
// new revision: the new revision is applied without waiting for the
// (five-minute) timeout.
func TestNewRevisionCancelsHealthCheck(t *testing.T) {
	f := newFixture(t)
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n"
	a1 := f.artifact("app", map[string]string{"web.yaml": deployment})
	src := f.gitRepository("app", &a1)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Wait = true
		s.Timeout = &metav1.Duration{Duration: 5 * time.Minute}
	})
	// Once the Deployment exists the reconcile is waiting for it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f.c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "web"}, &appsv1.Deployment{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Deployment not applied: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a2 := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.setArtifact(src, a2)
	got := f.waitReady(ks, a2.Revision)
	if !conditions.IsTrue(got, meta.HealthyCondition) {
		t.Errorf("Healthy = %+v", conditions.Get(got, meta.HealthyCondition))
	}
}

// spec.force recreates an object whose immutable fields changed; without
// it the apply fails and says why.
func TestForceRecreatesImmutable(t *testing.T) {
	f := newFixture(t)
	immutable := func(v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frozen\nimmutable: true\ndata:\n  k: " + v + "\n"
	}
	a1 := f.artifact("app", map[string]string{"frozen.yaml": immutable("v1")})
	src := f.gitRepository("app", &a1)
	ks := f.kustomization("app", "app", nil)
	f.waitReady(ks, a1.Revision)

	a2 := f.artifact("app", map[string]string{"frozen.yaml": immutable("v2")})
	f.setArtifact(src, a2)
	got := f.waitNotReady(ks, ApplyFailedReason, a2.Revision)
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "immutable") {
		t.Errorf("Ready message = %q", msg)
	}
	f.update(ks, func(k *kustomizev1.Kustomization) { k.Spec.Force = true })
	f.waitReady(ks, a2.Revision)
	if v := f.mustConfigMap(f.ns, "frozen").Data["k"]; v != "v2" {
		t.Errorf("k = %q, want v2", v)
	}
}
