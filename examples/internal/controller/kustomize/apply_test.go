package kustomize

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
)

// A plain folder is applied and recorded; a new source revision is applied
// through the source watch (the interval is an hour) and what left the
// build is pruned.
func TestPlainFolderNewRevisionAndPrune(t *testing.T) {
	f := newFixture(t)
	a1 := f.artifact("app", map[string]string{
		"a.yaml":     cm("a"),
		"sub/b.yaml": cm("b"),
		"README.md":  "not a manifest",
	})
	src := f.gitRepository("app", &a1)
	ks := f.kustomization("app", "app", nil)

	got := f.waitReady(ks, a1.Revision)
	want := []string{f.ns + "_a__ConfigMap", f.ns + "_b__ConfigMap"}
	if diff := cmp.Diff(want, inventoryIDs(got)); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	if got.Status.LastAttemptedRevision != a1.Revision {
		t.Errorf("lastAttemptedRevision = %q, want %q", got.Status.LastAttemptedRevision, a1.Revision)
	}
	if msg := conditions.Get(got, conditions.Ready).Message; msg != "Applied revision: "+a1.Revision {
		t.Errorf("Ready message = %q", msg)
	}
	if problems := conditions.Check(got); len(problems) > 0 {
		t.Errorf("conditions break the kstatus conventions: %v", problems)
	}
	if !controllerutil.ContainsFinalizer(got, Finalizer) {
		t.Errorf("finalizer missing: %v", got.Finalizers)
	}
	a := f.mustConfigMap(f.ns, "a")
	if a.Labels["kustomize.gitopskit.dev/name"] != "app" || a.Labels["kustomize.gitopskit.dev/namespace"] != f.ns {
		t.Errorf("ownership labels = %v", a.Labels)
	}
	if !managedBy(a.ManagedFields, fieldManager) {
		t.Errorf("ConfigMap not applied by field manager %q", fieldManager)
	}

	a2 := f.artifact("app", map[string]string{"a.yaml": cm("a", "k", "v2"), "c.yaml": cm("c")})
	f.setArtifact(src, a2)
	got = f.waitReady(ks, a2.Revision)
	want = []string{f.ns + "_a__ConfigMap", f.ns + "_c__ConfigMap"}
	if diff := cmp.Diff(want, inventoryIDs(got)); diff != "" {
		t.Errorf("inventory after revision 2 (-want +got):\n%s", diff)
	}
	if v := f.mustConfigMap(f.ns, "a").Data["k"]; v != "v2" {
		t.Errorf("a.k = %q, want v2", v)
	}
	f.mustConfigMap(f.ns, "c")
	f.waitGone(f.ns, "b")
}

func managedBy(mf []metav1.ManagedFieldsEntry, manager string) bool {
	for _, e := range mf {
		if e.Manager == manager {
			return true
		}
	}
	return false
}

// With prune off, an object that left the build stays on the cluster.
func TestPruneDisabledKeepsObjects(t *testing.T) {
	f := newFixture(t)
	a1 := f.artifact("app", map[string]string{"a.yaml": cm("a"), "b.yaml": cm("b")})
	src := f.gitRepository("app", &a1)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) { s.Prune = false })
	f.waitReady(ks, a1.Revision)

	a2 := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.setArtifact(src, a2)
	got := f.waitReady(ks, a2.Revision)
	if diff := cmp.Diff([]string{f.ns + "_a__ConfigMap"}, inventoryIDs(got)); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	f.mustConfigMap(f.ns, "b")
}

// A folder with a kustomization.yaml is built by kustomize, and the spec's
// overlay (targetNamespace, namePrefix/Suffix, images, patches, components)
// is layered on top.
func TestKustomizationFileAndOverlay(t *testing.T) {
	f := newFixture(t)
	target := env.Namespace(t)
	a := f.artifact("app", map[string]string{
		"deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n- pod.yaml\nlabels:\n- pairs:\n    from: file\n",
		"deploy/cm.yaml":            cm("settings", "mode", "base"),
		"deploy/pod.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx:1.0
`,
		"deploy/extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- extra.yaml\n",
		"deploy/extra/extra.yaml":         cm("extra"),
	})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Path = "./deploy"
		s.TargetNamespace = target
		s.NamePrefix = "p-"
		s.NameSuffix = "-s"
		s.Images = []kustomizev1.Image{{Name: "nginx", NewName: "registry.example.com/nginx", NewTag: "2.0"}}
		s.Components = []string{"extra"}
		s.Patches = []kustomizev1.Patch{
			{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: patched\n"},
			{
				Patch:  `[{"op": "add", "path": "/metadata/annotations", "value": {"patched": "json6902"}}]`,
				Target: &kustomizev1.Selector{Kind: "ConfigMap", Name: "^extra$"},
			},
		}
	})
	got := f.waitReady(ks, a.Revision)

	want := []string{target + "_p-extra-s__ConfigMap", target + "_p-settings-s__ConfigMap", target + "_p-web-s__Pod"}
	if diff := cmp.Diff(want, inventoryIDs(got)); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	settings := f.mustConfigMap(target, "p-settings-s")
	if settings.Data["mode"] != "patched" || settings.Labels["from"] != "file" {
		t.Errorf("settings: data %v labels %v", settings.Data, settings.Labels)
	}
	if v := f.mustConfigMap(target, "p-extra-s").Annotations["patched"]; v != "json6902" {
		t.Errorf("extra annotation patched = %q", v)
	}
	pod := &corev1.Pod{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: target, Name: "p-web-s"}, pod); err != nil {
		t.Fatal(err)
	}
	if img := pod.Spec.Containers[0].Image; img != "registry.example.com/nginx:2.0" {
		t.Errorf("image = %q", img)
	}
	if f.configMap(f.ns, "settings") != nil || f.configMap(f.ns, "p-settings-s") != nil {
		t.Error("objects applied outside the target namespace")
	}
}

// containsAll reports whether s holds every part.
func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
