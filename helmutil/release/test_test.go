package release_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/release"
)

const testHookTemplate = `{{- range .Values.tests }}
apiVersion: v1
kind: Pod
metadata:
  name: {{ $.Release.Name }}-test-{{ . }}
  annotations:
    "helm.sh/hook": test
    "helm.sh/hook-delete-policy": before-hook-creation
spec:
  restartPolicy: Never
  containers:
  - name: test
    image: busybox
    command: ["true"]
---
{{- end }}
`

// kubelet plays the kubelet for test hook Pods, which nothing runs here:
// it writes the phase phase(name) into the status of each new Pod of ns.
func kubelet(t *testing.T, ctx context.Context, ns string, phase func(name string) corev1.PodPhase) {
	ctx, cancel := context.WithCancel(ctx)
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
			pods := &corev1.PodList{}
			if err := env.Client().List(ctx, pods, client.InNamespace(ns)); err != nil {
				continue
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
					continue
				}
				p.Status.Phase = phase(p.Name)
				_ = env.Client().Status().Update(ctx, p)
			}
		}
	}()
}

func testedChart() *release.Request {
	ch := newChart("tested", "0.1.0", map[string]any{"greeting": "hi", "tests": []any{"ok"}}, map[string]string{
		"templates/cm.yaml":    configMapTemplate,
		"templates/tests.yaml": testHookTemplate,
	})
	return &release.Request{Chart: ch, Spec: release.Spec{Test: release.Test{Enable: true}}}
}

func TestTestHooks(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	kubelet(t, ctx, ns, func(name string) corev1.PodPhase {
		if strings.HasSuffix(name, "-bad") {
			return corev1.PodFailed
		}
		return corev1.PodSucceeded
	})
	req := *testedChart()
	req.Release = release.Ref{Name: "tested", Namespace: ns}
	var st release.Status

	// install, then the passing test
	actions, out := stepUntilDone(t, ctx, r, req, &st, 5)
	if diff := cmp.Diff([]release.Action{release.ActionInstall, release.ActionTest}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if h := out.Current.TestHooks["tested-test-ok"]; h.Phase != "Succeeded" || h.LastCompleted == nil {
		t.Fatalf("test hooks %+v", out.Current.TestHooks)
	}

	// an upgrade that adds a failing test: the test step fails, and with
	// no retry the release stalls, tests failed
	req.Values = map[string]any{"tests": []any{"ok", "bad"}}
	out, err := r.Step(ctx, req, &st)
	if err != nil || out.Decision.Action != release.ActionUpgrade {
		t.Fatalf("upgrade: %+v %v", out.Decision, err)
	}
	out, err = r.Step(ctx, req, &st)
	if !errors.Is(err, release.ErrTestFailed) || out.Decision.Action != release.ActionTest {
		t.Fatalf("test step: %+v, error %v, want ErrTestFailed", out.Decision, err)
	}
	var he *release.HookError
	if !errors.As(err, &he) || len(he.Hooks) != 1 || he.Hooks[0].Name != "tested-test-bad" {
		t.Fatalf("error %v: want a *HookError naming the failed test", err)
	}
	if st.UpgradeFailures != 1 || out.Current.TestHooks["tested-test-bad"].Phase != "Failed" {
		t.Fatalf("status %+v, hooks %+v", st, out.Current.TestHooks)
	}
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.State != release.StateTestFailed || !out.Decision.Stalled {
		t.Fatalf("after the failed test: %+v, %v", out.Decision, err)
	}

	// ignoring test failures, the release is in sync
	req.Spec.Test.IgnoreFailures = true
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.State != release.StateInSync {
		t.Fatalf("ignoring failures: %+v, %v", out.Decision, err)
	}

	// a filter that leaves the failing test out: an upgrade is tested
	// with the passing test only
	req.Spec.Test.IgnoreFailures = false
	req.Spec.Test.Filters = []release.TestFilter{{Name: "tested-test-bad", Exclude: true}}
	req.Values = map[string]any{"tests": []any{"ok", "bad"}, "greeting": "again"}
	actions, out = stepUntilDone(t, ctx, r, req, &st, 5)
	if diff := cmp.Diff([]release.Action{release.ActionUpgrade, release.ActionTest}, actions); diff != "" {
		t.Fatalf("actions (-want +got):\n%s", diff)
	}
	if out.Current.TestHooks["tested-test-bad"].Phase != "" || out.Current.TestHooks["tested-test-ok"].Phase != "Succeeded" {
		t.Fatalf("hooks %+v", out.Current.TestHooks)
	}
}
