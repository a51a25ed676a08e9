package kustomize

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The guestbook of the Flux issue: a folder whose kustomization sets its
// own namePrefix, namespace and images, and whose Deployment refers to a
// ConfigMap by name.
var guestbook = map[string]string{
	"app/kustomization.yaml": `resources:
- deploy.yaml
- svc.yaml
- config.yaml
namePrefix: kustomize-
nameSuffix: -k
namespace: folder-ns
images:
- name: nginx
  newName: registry.local/nginx
  newTag: "1.0"
- name: redis
  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
components:
- ../comp-own
`,
	"app/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook-ui
  labels:
    app: guestbook-ui
spec:
  selector:
    matchLabels:
      app: guestbook-ui
  template:
    metadata:
      labels:
        app: guestbook-ui
    spec:
      containers:
      - name: ui
        image: nginx
        envFrom:
        - configMapRef:
            name: config
      - name: cache
        image: redis
      - name: proxy
        image: envoy
`,
	"app/svc.yaml":                 "apiVersion: v1\nkind: Service\nmetadata:\n  name: guestbook-ui\nspec:\n  selector:\n    app: guestbook-ui\n  ports:\n  - port: 80\n",
	"app/config.yaml":              cm("config", "mode", "base"),
	"comp-own/kustomization.yaml":  "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- own.yaml\n",
	"comp-own/own.yaml":            cm("own"),
	"app/extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- extra.yaml\n",
	"app/extra/extra.yaml":         cm("extra"),
}

func images(t *testing.T, d *unstructured.Unstructured) []string {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	var out []string
	for _, c := range cs {
		out = append(out, c.(map[string]any)["image"].(string))
	}
	return out
}

// Each overlay field follows what Flux's kustomize-controller does with
// the same Kustomization spec field: it edits the folder's kustomization
// (fluxcd/pkg kustomize.Generator), so namePrefix, nameSuffix and
// targetNamespace replace the folder's own, patches and components join the
// folder's own at its level, images merge by name, and commonMetadata is
// set on the built objects afterwards.
func TestOverlayFollowsFlux(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, guestbook)

	t.Run("no overlay", func(t *testing.T) {
		objs := mustBuild(t, root, "app", Options{})
		d := find(t, objs, "Deployment", "kustomize-guestbook-ui-k")
		if d.GetNamespace() != "folder-ns" {
			t.Errorf("namespace %q", d.GetNamespace())
		}
		if diff := cmp.Diff([]string{"registry.local/nginx:1.0", "redis@sha256:" + repeat1, "envoy"}, images(t, d)); diff != "" {
			t.Error(diff)
		}
		find(t, objs, "ConfigMap", "kustomize-own-k")
	})

	t.Run("namePrefix and nameSuffix replace the folder's", func(t *testing.T) {
		objs := mustBuild(t, root, "app", Options{Overlay: Overlay{NamePrefix: "flux-", NameSuffix: "-f"}})
		d := find(t, objs, "Deployment", "flux-guestbook-ui-f")
		find(t, objs, "Service", "flux-guestbook-ui-f")
		find(t, objs, "ConfigMap", "flux-config-f")
		find(t, objs, "ConfigMap", "flux-own-f") // the folder's component, at the folder's level
		cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		envFrom := cs[0].(map[string]any)["envFrom"].([]any)[0].(map[string]any)["configMapRef"].(map[string]any)["name"]
		if envFrom != "flux-config-f" {
			t.Errorf("the name reference was not updated: %v", envFrom)
		}
		// Only the prefix: the folder's suffix stays.
		objs = mustBuild(t, root, "app", Options{Overlay: Overlay{NamePrefix: "flux-"}})
		find(t, objs, "Deployment", "flux-guestbook-ui-k")
	})

	t.Run("targetNamespace replaces the folder's namespace", func(t *testing.T) {
		objs := mustBuild(t, root, "app", Options{Overlay: Overlay{Namespace: "target"}})
		for _, o := range objs {
			if o.GetNamespace() != "target" {
				t.Errorf("%s/%s in %q", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		}
	})

	t.Run("patches see the folder's objects before its prefix", func(t *testing.T) {
		objs := mustBuild(t, root, "app", Options{Overlay: Overlay{Patches: []Patch{
			{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  mode: patched\n"},
			{Patch: `[{"op": "add", "path": "/spec/replicas", "value": 3}]`, Target: &Selector{Kind: "Deployment", Name: "^guestbook-ui$"}},
		}}})
		c := find(t, objs, "ConfigMap", "kustomize-config-k")
		if v, _, _ := unstructured.NestedString(c.Object, "data", "mode"); v != "patched" {
			t.Errorf("strategic merge patch by the unprefixed name: mode = %q", v)
		}
		d := find(t, objs, "Deployment", "kustomize-guestbook-ui-k")
		if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 3 {
			t.Errorf("JSON 6902 patch targeting the unprefixed name: replicas = %d", r)
		}
	})

	t.Run("images merge with the folder's by name", func(t *testing.T) {
		objs := mustBuild(t, root, "app", Options{Overlay: Overlay{Images: []Image{
			{Name: "nginx", NewTag: "2.0"}, // keeps the folder's newName
			{Name: "redis", NewTag: "7"},   // a new tag drops the folder's digest
			{Name: "envoy", NewName: "e/envoy", Digest: "sha256:" + repeat1},
		}}})
		d := find(t, objs, "Deployment", "kustomize-guestbook-ui-k")
		want := []string{"registry.local/nginx:2.0", "redis:7", "e/envoy@sha256:" + repeat1}
		if diff := cmp.Diff(want, images(t, d)); diff != "" {
			t.Error(diff)
		}
		objs = mustBuild(t, root, "app", Options{Overlay: Overlay{Images: []Image{{Name: "nginx", NewName: "mirror/nginx"}}}})
		if got := images(t, find(t, objs, "Deployment", "kustomize-guestbook-ui-k"))[0]; got != "mirror/nginx:1.0" {
			t.Errorf("a new name keeps the folder's tag: %q", got)
		}
	})

	t.Run("components join the folder's, at its level", func(t *testing.T) {
		objs := mustBuild(t, root, "app", Options{Overlay: Overlay{Components: []string{"extra"}}})
		find(t, objs, "ConfigMap", "kustomize-extra-k") // the folder's prefix applies to them
		find(t, objs, "ConfigMap", "kustomize-own-k")
	})

	t.Run("commonMetadata after the build", func(t *testing.T) {
		objs := mustBuild(t, root, "app", Options{
			Overlay: Overlay{
				Labels:      map[string]string{"app": "overridden", "team": "${team}"},
				Annotations: map[string]string{"owner": "ops"},
			},
			Substitute: &Substitution{Vars: map[string]string{"team": "substituted"}},
		})
		for _, o := range objs {
			if o.GetLabels()["team"] != "${team}" || o.GetAnnotations()["owner"] != "ops" {
				t.Errorf("%s: labels %v annotations %v", o.GetName(), o.GetLabels(), o.GetAnnotations())
			}
		}
		d := find(t, objs, "Deployment", "kustomize-guestbook-ui-k")
		if d.GetLabels()["app"] != "overridden" {
			t.Errorf("an existing label is overridden, as Flux does: %v", d.GetLabels())
		}
		sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels")
		tmpl, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
		if sel["app"] != "guestbook-ui" || tmpl["app"] != "guestbook-ui" || len(tmpl) != 1 {
			t.Errorf("selectors and templates must not change: %v %v", sel, tmpl)
		}
	})
}

const repeat1 = "1111111111111111111111111111111111111111111111111111111111111111"

func TestOverlayIgnoreMissingComponents(t *testing.T) {
	t.Parallel()
	_, root := escapeTree(t)
	writeTree(t, root, guestbook)
	comps := []string{"extra", "missing", "gone/deeper"}
	if _, err := Build(context.Background(), root, "app", Options{Overlay: Overlay{Components: comps}}); err == nil {
		t.Fatal("a missing component was accepted")
	}
	objs := mustBuild(t, root, "app", Options{Overlay: Overlay{Components: comps, IgnoreMissingComponents: true}})
	find(t, objs, "ConfigMap", "kustomize-extra-k")
	// Leaving the source is never "missing".
	for _, c := range []string{"../../base", "../../../etc", "/etc"} {
		_, err := Build(context.Background(), root, "app", Options{Overlay: Overlay{Components: []string{c}, IgnoreMissingComponents: true}})
		var pe *PathEscapeError
		if !errors.As(err, &pe) {
			t.Errorf("%s: want *PathEscapeError, got %v", c, err)
		}
	}
}

// A folder without a kustomization gets one generated in its place, with
// the overlay in it.
func TestOverlayOnGeneratedKustomization(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"plain/deploy.yaml":       deployment,
		"plain/cm.yaml":           cm("settings"),
		"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- c.yaml\n",
		"comp/c.yaml":             cm("from-component"),
	})
	objs := mustBuild(t, root, "plain", Options{Overlay: Overlay{NamePrefix: "p-", Namespace: "ns", Components: []string{"../comp"}}})
	want := []string{"ConfigMap/ns/p-from-component", "ConfigMap/ns/p-settings", "Deployment/ns/p-web"}
	if diff := cmp.Diff(want, ids(objs)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
