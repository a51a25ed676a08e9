package ssa_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// setDeploymentStatus writes a Deployment's status through the status
// subresource, standing in for the absent deployment controller.
func setDeploymentStatus(ctx context.Context, t testing.TB, ns, name string, failed bool) {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, d); err != nil {
		t.Errorf("getting deployment: %v", err)
		return
	}
	r := int32(1)
	if d.Spec.Replicas != nil {
		r = *d.Spec.Replicas
	}
	now := metav1.Now()
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           r, UpdatedReplicas: r, ReadyReplicas: r, AvailableReplicas: r,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
		},
	}
	if failed {
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
		d.Status.Conditions = []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "deadline exceeded", LastUpdateTime: now, LastTransitionTime: now},
		}
	}
	if err := env.Client().Status().Update(ctx, d); err != nil {
		t.Errorf("writing deployment status: %v", err)
	}
}

const waitSet = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: nginx}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config}
`

func TestWaitUntilCurrent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	set := objects(t, waitSet)
	if _, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Wait(ctx, set, ssa.WaitOptions{DefaultNamespace: ns, Timeout: time.Minute}) }()
	setDeploymentStatus(ctx, t, ns, "web", false)
	select {
	case err := <-done:
		t.Fatalf("Wait returned before every Deployment was ready: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	setDeploymentStatus(ctx, t, ns, "api", false)
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestWaitFailFast(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	set := objects(t, waitSet)
	if _, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- m.Wait(ctx, set, ssa.WaitOptions{DefaultNamespace: ns, FailFast: true, Timeout: 90 * time.Second})
	}()
	setDeploymentStatus(ctx, t, ns, "api", true)
	err := <-done
	if !errors.Is(err, ssa.ErrFailed) {
		t.Fatalf("Wait = %v, want ErrFailed", err)
	}
	var we *ssa.WaitError
	if !errors.As(err, &we) {
		t.Fatalf("error %T is not a *WaitError", err)
	}
	got := map[string]ssa.Status{}
	for _, s := range we.Unready {
		got[s.ID.Name] = s.Status
	}
	// The ConfigMap may not have been observed yet when the failure is.
	if got["api"] != ssa.StatusFailed || got["web"] != ssa.StatusInProgress || got["config"] == ssa.StatusCurrent {
		t.Errorf("unready = %v", we.Unready)
	}
	if !strings.Contains(err.Error(), "Deployment.apps/"+ns+"/api: Failed: Progress deadline exceeded") {
		t.Errorf("error does not explain the failure: %v", err)
	}
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	set := objects(t, waitSet)
	if _, err := m.Apply(ctx, set[:1], ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	err := m.Wait(ctx, set, ssa.WaitOptions{DefaultNamespace: ns, Timeout: 2 * time.Second})
	if !errors.Is(err, ssa.ErrTimeout) {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
	for _, want := range []string{
		"Deployment.apps/" + ns + "/web: InProgress: Replicas: 0/1",
		"Deployment.apps/" + ns + "/api: NotFound",
		"ConfigMap/" + ns + "/config: NotFound",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout error lacks %q:\n%v", want, err)
		}
	}
	// The context's own cancellation is reported as such.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Wait(cctx, set, ssa.WaitOptions{DefaultNamespace: ns}); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v", err)
	}
}

func TestWaitHealthRules(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	set := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gate}\ndata: {state: pending}\n")
	if _, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	rules := []ssa.HealthRule{{
		Kind:    "ConfigMap",
		Current: `self.data.state == "ready"`,
		Failed:  `self.data.state == "broken"`,
	}}
	done := make(chan error, 1)
	go func() {
		done <- m.Wait(ctx, set, ssa.WaitOptions{DefaultNamespace: ns, HealthRules: rules, Timeout: time.Minute})
	}()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "gate", Namespace: ns}}
	patch := []byte(`{"data":{"state":"ready"}}`)
	if err := env.Client().Patch(ctx, cm, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Wait with a health rule: %v", err)
	}
	patch = []byte(`{"data":{"state":"broken"}}`)
	if err := env.Client().Patch(ctx, cm, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	err := m.Wait(ctx, set, ssa.WaitOptions{DefaultNamespace: ns, HealthRules: rules, FailFast: true, Timeout: time.Minute})
	if !errors.Is(err, ssa.ErrFailed) {
		t.Errorf("Wait on a broken object = %v", err)
	}
	bad := []ssa.HealthRule{{Kind: "ConfigMap", Current: "self.data.state ==="}}
	if err := m.Wait(ctx, set, ssa.WaitOptions{DefaultNamespace: ns, HealthRules: bad}); err == nil || !strings.Contains(err.Error(), "health rule") {
		t.Errorf("bad expression: %v", err)
	}
}

func TestApplyWaitForDependencies(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	set := objects(t, waitSet)[:1]
	set = append(set, objects(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: after-web, annotations: {config.kubernetes.io/depends-on: apps/namespaces/`+ns+`/Deployment/web}}
`)...)
	// The Deployment never becomes ready (no controller): its dependent
	// is not applied and the error says why.
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns, WaitForDependencies: true, Timeout: 2 * time.Second})
	if !errors.Is(err, ssa.ErrTimeout) || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/after-web: dependency Deployment.apps/"+ns+"/web") {
		t.Fatalf("Apply = %v", err)
	}
	if got := len(cs.Changes); got != 1 {
		t.Errorf("changes = %s", cs)
	}
	setDeploymentStatus(ctx, t, ns, "web", false)
	cs, err = m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns, WaitForDependencies: true, Timeout: time.Minute})
	if err != nil || cs.Count(ssa.ActionCreated) != 1 {
		t.Errorf("Apply once the dependency is ready = %v, %v", cs, err)
	}
}
