package kustomize

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// A failure never reads as success (issue: a set the API server refused
// before any write used to panic the reconciler, and the panic was recorded
// as Ready=True).

// TestUnservedKindIsAFailure: an object of a kind the cluster does not
// serve (a CRD not installed yet, as real repositories are full of) makes
// the Kustomization Ready=False naming the kind, writes nothing of the
// set, and holds its dependents back.
func TestUnservedKindIsAFailure(t *testing.T) {
	f := newFixture(t)
	a := f.artifact("app", map[string]string{
		"cm.yaml":     cm("plain"),
		"widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
	})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", nil)
	dep := f.kustomization("dependent", "app", func(s *kustomizev1.KustomizationSpec) {
		s.DependsOn = []meta.DependencyReference{{Name: "app"}}
	})

	got := f.waitNotReady(ks, ApplyFailedReason, a.Revision)
	msg := conditions.Get(got, conditions.Ready).Message
	if !strings.Contains(msg, "Widget") || !strings.Contains(msg, a.Revision) {
		t.Errorf("Ready message %q does not name the kind and the revision", msg)
	}
	if f.configMap(f.ns, "plain") != nil {
		t.Error("an object of the refused set was applied")
	}
	if got.Status.LastAppliedRevision != "" {
		t.Errorf("lastAppliedRevision = %q after a refused apply", got.Status.LastAppliedRevision)
	}
	f.waitNotReady(dep, "DependencyNotReady", "")

	// Retried, and still a failure: never Ready=True in between.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		k := f.waitFor(ks, "read", func(*kustomizev1.Kustomization) bool { return true })
		if conditions.IsReady(k) {
			t.Fatalf("Ready=True after a refused apply: %+v", k.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fams, err := metricstest.Gather(metricsRegistry)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := fams.Value("gitopskit_reconcile_panics_total", map[string]string{"name": "app", "namespace": f.ns}); n != 0 {
		t.Errorf("the reconcile panicked %v times", n)
	}
}

// TestProgressWhileHealthChecking: while a long health check runs, the
// Kustomization says so (Reconciling=True, Ready=Unknown, a message naming
// the revision), never a previous outcome; then it ends in its final state.
func TestProgressWhileHealthChecking(t *testing.T) {
	f := newFixture(t)
	// There is no kubelet: a Deployment never becomes ready.
	a := f.artifact("app", map[string]string{"deploy.yaml": deployment("web")})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Wait = true
		s.Timeout = &metav1.Duration{Duration: 8 * time.Second}
	})
	during := f.waitFor(ks, "Reconciling while health checking", func(k *kustomizev1.Kustomization) bool {
		r := conditions.Get(k, conditions.Reconciling)
		return r != nil && r.Status == metav1.ConditionTrue && strings.HasPrefix(r.Message, "health checking")
	})
	ready := conditions.Get(during, conditions.Ready)
	want := "health checking 1 objects of revision " + a.Revision
	if ready == nil || ready.Status != metav1.ConditionUnknown || ready.Message != want {
		t.Errorf("Ready while health checking = %+v, want Unknown %q", ready, want)
	}
	if problems := conditions.Check(during); len(problems) > 0 {
		t.Errorf("progress breaks kstatus conventions: %v", problems)
	}
	f.waitNotReady(ks, HealthCheckFailedReason, a.Revision)
}

// TestSecretValuesMaskedInRejections: a value substituted from a Secret
// that the API server rejects, quoting it, never reaches the status.
func TestSecretValuesMaskedInRejections(t *testing.T) {
	f := newFixture(t)
	const secretValue = "Not A Label!! s3cr3t"
	if err := f.c.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "vars"},
		StringData: map[string]string{"team": secretValue},
	}); err != nil {
		t.Fatal(err)
	}
	a := f.artifact("app", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  labels:\n    team: ${team}\n"})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "Secret", Name: "vars"}}}
	})
	got := f.waitNotReady(ks, ApplyFailedReason, a.Revision)
	msg := conditions.Get(got, conditions.Ready).Message
	if !strings.Contains(msg, "Invalid value") {
		t.Errorf("Ready message %q is not the API server's rejection", msg)
	}
	for _, c := range got.Status.Conditions {
		if strings.Contains(c.Message, "s3cr3t") {
			t.Errorf("condition %s carries the Secret's value: %q", c.Type, c.Message)
		}
	}
}

// deployment returns a minimal Deployment manifest.
func deployment(name string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
spec:
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
    spec:
      containers:
      - name: app
        image: example.com/app:1
`
}
