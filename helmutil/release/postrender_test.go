package release_test

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/helmutil/release"
)

const hookTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    "helm.sh/hook": post-install,post-upgrade
data:
  hook: "yes"
`

func postRenderRequest(ns string) release.Request {
	ch := newChart("rendered", "0.1.0", map[string]any{"greeting": "hi", "mode": "prod", "password": "p"}, map[string]string{
		"templates/cm.yaml":    configMapTemplate,
		"templates/other.yaml": driftTemplates,
		"templates/hook.yaml":  hookTemplate,
	})
	return release.Request{
		Release: release.Ref{Name: "rendered", Namespace: ns},
		Chart:   ch,
		Spec: release.Spec{
			Install: release.Install{DisableWait: true},
			Upgrade: release.Upgrade{DisableWait: true},
			PostRender: release.PostRender{
				Patches: []release.Patch{
					{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: rendered\nspec:\n  replicas: 3\n"},
					{Patch: `[{"op": "add", "path": "/data/patched", "value": "by-6902"}]`, Target: &release.Selector{Kind: "ConfigMap", Name: "rendered-config"}},
				},
				Images:      []release.Image{{Name: "nginx", NewTag: "1.28"}},
				Labels:      map[string]string{"team": "web"},
				Annotations: map[string]string{"owner": "platform"},
			},
		},
	}
}

func TestPostRender(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := postRenderRequest(ns)
	var st release.Status
	stepUntilDone(t, ctx, r, req, &st, 3)

	dep := &appsv1.Deployment{}
	if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "rendered"}, dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 3 || dep.Spec.Template.Spec.Containers[0].Image != "nginx:1.28" {
		t.Fatalf("deployment not post-rendered: replicas %d, image %s", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Image)
	}
	if dep.Labels["team"] != "web" || dep.Annotations["owner"] != "platform" || dep.Spec.Selector.MatchLabels["team"] != "" {
		t.Fatalf("common metadata: labels %v, annotations %v, selector %v", dep.Labels, dep.Annotations, dep.Spec.Selector.MatchLabels)
	}
	cm := getConfigMap(t, ctx, ns, "rendered-config")
	if cm.Data["patched"] != "by-6902" || cm.Labels["team"] != "web" {
		t.Fatalf("configmap: %v %v", cm.Data, cm.Labels)
	}
	if hook := getConfigMap(t, ctx, ns, "rendered-hook"); hook.Labels["team"] != "" {
		t.Fatalf("a hook was post-rendered: %v", hook.Labels)
	}

	// the release's manifest is the post-rendered one: no drift, and a
	// change of the post-render alone is an upgrade
	req.Spec.Drift.Mode = release.DriftEnabled
	out, err := r.Step(ctx, req, &st)
	if err != nil || out.Decision.State != release.StateInSync {
		t.Fatalf("after the install: %+v %+v, %v", out.Decision, out.Drift, err)
	}
	req.Spec.PostRender.Labels = map[string]string{"team": "api"}
	out, err = r.Step(ctx, req, &st)
	if err != nil || out.Decision.Action != release.ActionUpgrade {
		t.Fatalf("post-render changed: %+v, %v", out.Decision, err)
	}
	if got := getConfigMap(t, ctx, ns, "rendered-config").Labels["team"]; got != "api" {
		t.Fatalf("label after upgrade %q", got)
	}
}

func TestPostRenderFailureWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := namespace(t)
	r := newRunner(t)
	req := postRenderRequest(ns)
	req.Spec.PostRender.Patches = []release.Patch{{Patch: `[{"op": "replace", "path": "/spec/nothing/here", "value": 1}]`, Target: &release.Selector{Kind: "Deployment"}}}
	_, err := r.Step(ctx, req, &release.Status{})
	if !errors.Is(err, release.ErrPostRender) || errors.Is(err, release.ErrRender) {
		t.Fatalf("error %v, want ErrPostRender (and not ErrRender)", err)
	}
	if h, _ := store(t, ns).History("rendered"); len(h) != 0 {
		t.Fatalf("%d records after a failed post-render", len(h))
	}
	if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: "rendered-config"}, &corev1.ConfigMap{}); err == nil {
		t.Fatal("an object was written")
	}
}
