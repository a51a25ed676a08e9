package kustomize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("%s/%s not in %v", kind, name, ids(objs))
	return nil
}

func TestOverlay(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/kustomization.yaml":      "resources:\n- deploy.yaml\n- cm.yaml\n",
		"app/deploy.yaml":             deployment,
		"app/cm.yaml":                 cm("settings", "a", "b"),
		"app/comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- extra.yaml\n",
		"app/comp/extra.yaml":         cm("extra"),
		"plain/deploy.yaml":           deployment,
	})
	ov := Overlay{
		Namespace:   "team-a",
		NamePrefix:  "pre-",
		NameSuffix:  "-suf",
		Labels:      map[string]string{"owner": "team-a"},
		Annotations: map[string]string{"note": "hello"},
		Patches: []Patch{
			{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n"},
			{Patch: `[{"op": "add", "path": "/data/patched", "value": "yes"}]`, Target: &Selector{Kind: "ConfigMap", Name: "settings"}},
		},
		Images:     []Image{{Name: "nginx", NewName: "registry.example.com/nginx", NewTag: "1.27"}},
		Components: []string{"comp"},
	}
	for _, dir := range []string{"app", "plain"} {
		o := ov
		if dir == "plain" {
			o.Components = nil
		}
		objs := mustBuild(t, root, dir, Options{Overlay: o})
		d := find(t, objs, "Deployment", "pre-web-suf")
		if d.GetNamespace() != "team-a" {
			t.Errorf("%s: namespace = %q", dir, d.GetNamespace())
		}
		if d.GetLabels()["owner"] != "team-a" || d.GetAnnotations()["note"] != "hello" {
			t.Errorf("%s: metadata = %v %v", dir, d.GetLabels(), d.GetAnnotations())
		}
		sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "selector", "matchLabels")
		if diff := cmp.Diff(map[string]string{"app": "web"}, sel); diff != "" {
			t.Errorf("%s: selector must not change:\n%s", dir, diff)
		}
		if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 5 {
			t.Errorf("%s: strategic merge patch not applied, replicas = %d", dir, r)
		}
		cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		if img := cs[0].(map[string]any)["image"]; img != "registry.example.com/nginx:1.27" {
			t.Errorf("%s: image = %v", dir, img)
		}
		if dir == "app" {
			c := find(t, objs, "ConfigMap", "pre-settings-suf")
			if v, _, _ := unstructured.NestedString(c.Object, "data", "patched"); v != "yes" {
				t.Errorf("json6902 patch not applied: %v", c.Object["data"])
			}
			find(t, objs, "ConfigMap", "pre-extra-suf")
		}
	}
	// Digest pins win over tags.
	objs := mustBuild(t, root, "plain", Options{Overlay: Overlay{Images: []Image{{Name: "nginx", Digest: "sha256:" + strings.Repeat("a", 64)}}}})
	cs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "nginx@sha256:"+strings.Repeat("a", 64) {
		t.Errorf("image = %v", img)
	}
}

func TestDuplicatesRejected(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.yaml": strings.Replace(deployment, "apps/v1", "apps/v1beta2", 1),
		"b.yaml": deployment,
		"c.yaml": cm("fine"),
	})
	_, err := Build(context.Background(), root, "", Options{})
	var de *DuplicateError
	if !errors.As(err, &de) || !cmp.Equal(de.Objects, []string{"apps/Deployment//web"}) {
		t.Fatalf("want DuplicateError, got %v", err)
	}
	// Same version twice: kustomize itself refuses.
	writeTree(t, root, map[string]string{"a.yaml": deployment})
	if _, err := Build(context.Background(), root, "", Options{}); err == nil {
		t.Fatal("duplicate accepted")
	}
}

func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"cm.yaml": cm("x")})
	boom := func(filesys.FileSystem, string, *krusty.Options) (resmap.ResMap, error) {
		var m map[string]int
		m["boom"]++ // a real runtime panic
		return nil, nil
	}
	_, err := build(context.Background(), root, "", Options{}, boom)
	if !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("want ErrPanic, got %v", err)
	}
	// The lock was released: a normal build still works.
	mustBuild(t, root, "", Options{})
	// With decryption on, the panic value is withheld.
	_, err = build(context.Background(), root, "", Options{Decrypt: &Decryption{}}, boom)
	if !errors.Is(err, ErrPanic) || strings.Contains(err.Error(), "nil map") {
		t.Fatalf("want withheld ErrPanic, got %v", err)
	}
}

func TestConcurrentBuilds(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{}
	for i := range 16 {
		d := fmt.Sprintf("app%02d", i)
		files[d+"/kustomization.yaml"] = "resources:\n- deploy.yaml\n- cm.yaml\nnamespace: ns" + fmt.Sprint(i) + "\n"
		files[d+"/deploy.yaml"] = deployment
		files[d+"/cm.yaml"] = cm("cfg", "i", fmt.Sprintf("%q", fmt.Sprint(i)))
		if i%4 == 0 {
			// Some builds set a custom OpenAPI schema version: kyaml's
			// global state that must not leak into the others.
			files[d+"/kustomization.yaml"] += "openapi:\n  version: v1.21.2\n"
		}
	}
	writeTree(t, root, files)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range 16 {
		wg.Go(func() {
			ov := Overlay{NamePrefix: fmt.Sprintf("p%d-", i), Patches: []Patch{{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:" + fmt.Sprint(i) + "\n"}}}
			objs, err := Build(context.Background(), root, fmt.Sprintf("app%02d", i), Options{Overlay: ov, Substitute: &Substitution{Vars: map[string]string{}}})
			if err != nil {
				errs[i] = err
				return
			}
			want := []string{fmt.Sprintf("ConfigMap/ns%d/p%d-cfg", i, i), fmt.Sprintf("Deployment/ns%d/p%d-web", i, i)}
			if diff := cmp.Diff(want, ids(objs)); diff != "" {
				errs[i] = fmt.Errorf("build %d:\n%s", i, diff)
				return
			}
			cs, _, _ := unstructured.NestedSlice(objs[1].Object, "spec", "template", "spec", "containers")
			if len(cs) != 1 || cs[0].(map[string]any)["image"] != "nginx:"+fmt.Sprint(i) {
				errs[i] = fmt.Errorf("build %d: containers %v", i, cs)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
