package helm

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
)

// testHookTemplate renders a Helm test Pod named after .Values.test.
const testHookTemplate = `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test-{{ .Values.test }}
  annotations:
    "helm.sh/hook": test
    "helm.sh/hook-delete-policy": before-hook-creation
spec:
  restartPolicy: Never
  containers:
  - name: test
    image: busybox
    command: ["true"]
`

// kubelet plays the part of a kubelet for the test Pods of namespace ns
// (the test control plane runs none): a Pod whose name ends in "-ok"
// succeeds, any other fails.
func kubelet(t *testing.T, ns string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var pods corev1.PodList
			if err := env.Client().List(ctx, &pods, client.InNamespace(ns)); err != nil {
				continue
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
					continue
				}
				p.Status.Phase = corev1.PodFailed
				if strings.HasSuffix(p.Name, "-ok") {
					p.Status.Phase = corev1.PodSucceeded
				}
				_ = env.Client().Status().Update(ctx, p)
			}
		}
	}()
}

// TestHelmReleaseTests runs the chart's tests after the install
// (TestSuccess=True, a TestSucceeded event), and a failing test after an
// upgrade makes the release TestFailed and, with no retry, stalled.
func TestHelmReleaseTests(t *testing.T) {
	f := newFixture(t)
	sa := &corev1.ServiceAccount{}
	sa.Namespace, sa.Name = f.ns, "default"
	if err := f.c.Create(context.Background(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	kubelet(t, f.ns)
	f.helmChart("app", f.chartArtifact("app", "1.0.0", map[string]string{"cm.yaml": configMapTemplate, "tests/pod.yaml": testHookTemplate}, nil))
	hr := f.helmRelease("tested", "app", func(h *helmv1.HelmRelease) {
		h.Spec.Values = inline("test", `"ok"`)
		h.Spec.Test = &helmv1.Test{Enable: true}
	})
	got := f.waitReady(hr, 1)
	if c := conditions.Get(got, helmv1.TestSuccessCondition); c == nil || c.Status != "True" || c.Reason != TestSucceededReason {
		t.Fatalf("TestSuccess %+v", c)
	}
	if h := got.Status.Latest().TestHooks["tested-test-ok"]; h.Phase != "Succeeded" {
		t.Fatalf("test hooks %+v", got.Status.Latest().TestHooks)
	}
	tested := false
	for _, e := range events.of(f.ns, "tested") {
		tested = tested || e.reason == TestSucceededReason
	}
	if !tested {
		t.Fatal("no TestSucceeded event")
	}

	f.update(hr, func(h *helmv1.HelmRelease) { h.Spec.Values = inline("test", `"bad"`) })
	got = f.waitNotReady(hr, TestFailedReason)
	if c := conditions.Get(got, helmv1.TestSuccessCondition); c == nil || c.Status != "False" {
		t.Fatalf("TestSuccess %+v", c)
	}
	got = f.waitFor(hr, "stalled", func(h *helmv1.HelmRelease) bool { return conditions.IsTrue(h, conditions.Stalled) })
	if c := conditions.Get(got, conditions.Ready); c.Reason != TestFailedReason {
		t.Fatalf("Ready %+v", c)
	}
}
