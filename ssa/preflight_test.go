package ssa_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// validAndInvalid returns n ConfigMaps with the given data value and two
// objects that pass the Manager's own checks but that the API server
// rejects: a Deployment with negative replicas and a Service port 0.
func validAndInvalid(t *testing.T, n int, value string) []*unstructured.Unstructured {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {v: %q}\n---\n", i, value)
	}
	b.WriteString(`apiVersion: apps/v1
kind: Deployment
metadata: {name: negative}
spec:
  replicas: -1
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: portless}
spec: {clusterIP: None, selector: {app: x}, ports: [{port: 0}]}
`)
	return objects(t, b.String())
}

// rejectedIDs checks err is a *SetError reached through to the API's
// Invalid status and returns the failed IDs, sorted.
func rejectedIDs(t *testing.T, err error) []string {
	t.Helper()
	var se *ssa.SetError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *SetError", err)
	}
	if !apierrors.IsInvalid(err) {
		t.Errorf("errors.As does not reach the Invalid status: %v", err)
	}
	var ids []string
	for _, id := range se.Failed() {
		ids = append(ids, id.String())
	}
	slices.Sort(ids)
	return ids
}

func TestApplyRejectedSetWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	want := []string{"Deployment.apps/" + ns + "/negative", "Service/" + ns + "/portless"}

	// New objects: nothing is created.
	cs, err := m.Apply(ctx, validAndInvalid(t, 5, "one"), ssa.ApplyOptions{DefaultNamespace: ns})
	if diff := cmp.Diff(want, rejectedIDs(t, err)); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "replicas") || !strings.Contains(err.Error(), "port") {
		t.Errorf("error does not say why: %v", err)
	}
	if cs == nil || len(cs.Changes) != 0 {
		t.Errorf("ChangeSet = %v, want empty", cs)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("a rejected set wrote: %+v", w)
	}
	cms := &corev1.ConfigMapList{}
	if err := env.Client().List(ctx, cms, &client.ListOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "cm-") {
			t.Errorf("ConfigMap %s of a rejected set was created", cm.Name)
		}
	}

	// Existing objects: the valid ones are applied, then a commit changes
	// them and adds invalid objects: nothing is changed.
	if _, err := m.Apply(ctx, validAndInvalid(t, 5, "one")[:5], ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	_, err = m.Apply(ctx, validAndInvalid(t, 5, "two"), ssa.ApplyOptions{DefaultNamespace: ns})
	if diff := cmp.Diff(want, rejectedIDs(t, err)); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("a rejected set wrote: %+v", w)
	}
	for i := range 5 {
		cm := &corev1.ConfigMap{}
		if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: fmt.Sprintf("cm-%d", i)}, cm); err != nil {
			t.Fatal(err)
		}
		if cm.Data["v"] != "one" {
			t.Errorf("%s changed by a rejected set: %v", cm.Name, cm.Data)
		}
	}

	// The same set without the invalid objects applies, with one write
	// per changed object, no GET and no second dry-run.
	rec.reset()
	cs, err = m.Apply(ctx, validAndInvalid(t, 5, "two")[:5], ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil || cs.Count(ssa.ActionConfigured) != 5 {
		t.Fatalf("valid set: %v %v", cs, err)
	}
	if w, n := len(rec.writes()), rec.count(); w != 5 || n != 11 {
		t.Errorf("requests = %d (%d writes), want 11: one list, then a dry-run and an apply each", n, w)
	}
}

func TestApplyPreflightSkipsWhatTheSetCreates(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	newNS := "pf-" + ns
	t.Cleanup(func() {
		_ = env.Client().Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: newNS}})
	})
	inNew := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %[1]s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: %[1]s}\n", newNS)

	// A rejected object the pre-flight can validate stops the set, the
	// new namespace included.
	set := append(objects(t, inNew), validAndInvalid(t, 0, "")[1:]...)
	_, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if diff := cmp.Diff([]string{"Service/" + ns + "/portless"}, rejectedIDs(t, err)); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("a rejected set wrote: %+v", w)
	}

	// An object in the namespace the set creates can only be validated
	// once that exists: it does not block the set, and fails as applied.
	set = objects(t, inNew+"---\napiVersion: v1\nkind: Service\nmetadata: {name: portless, namespace: "+newNS+"}\nspec: {clusterIP: None, ports: [{port: 0}]}\n"+
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: after, namespace: "+newNS+", annotations: {config.kubernetes.io/depends-on: /namespaces/"+newNS+"/Service/portless}}\n")
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{})
	if diff := cmp.Diff([]string{"ConfigMap/" + newNS + "/after", "Service/" + newNS + "/portless"}, rejectedIDs(t, err)); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	var de *ssa.DependencyError
	if !errors.As(err, &de) || de.Dependency.Name != "portless" {
		t.Errorf("dependent's error = %v, want a DependencyError naming the Service", err)
	}
	want := map[string]ssa.Action{"Namespace/" + newNS: ssa.ActionCreated, "ConfigMap/" + newNS + "/cm": ssa.ActionCreated}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}

	// Once the namespace exists, the same object is caught before any
	// write: the ConfigMap's change is not applied.
	set = objects(t, inNew+"data: {v: changed}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: portless, namespace: "+newNS+"}\nspec: {clusterIP: None, ports: [{port: 0}]}\n")
	rec.reset()
	if _, err := m.Apply(ctx, set, ssa.ApplyOptions{}); err == nil {
		t.Fatal("invalid Service applied")
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("a rejected set wrote: %+v", w)
	}
}

func TestApplyPreflightCustomResources(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	group := "pf-" + ns + ".example.com"
	crd := func(maximum int) string {
		return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.%[1]s}
spec:
  group: %[1]s
  names: {kind: Gadget, listKind: GadgetList, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, maximum: %[2]d}
`, group, maximum)
	}
	gadget := func(name string, size int) string {
		return fmt.Sprintf("---\napiVersion: %s/v1\nkind: Gadget\nmetadata: {name: %s}\nspec: {size: %d}\n", group, name, size)
	}
	t.Cleanup(func() {
		_ = env.Client().Delete(ctx, objects(t, crd(5))[0])
	})
	opts := ssa.ApplyOptions{DefaultNamespace: ns}
	// A new CRD and its resources: applied, the resources validated as
	// they are applied.
	cs, err := m.Apply(ctx, objects(t, crd(5)+gadget("small", 1)), opts)
	if err != nil || cs.Count(ssa.ActionCreated) != 2 {
		t.Fatalf("CRD and resource: %v %v", cs, err)
	}
	// The CRD exists and is unchanged: its resources are validated before
	// any write, so one violating the schema stops the set.
	rec.reset()
	_, err = m.Apply(ctx, objects(t, crd(5)+gadget("small", 2)+gadget("big", 8)), opts)
	if diff := cmp.Diff([]string{"Gadget." + group + "/" + ns + "/big"}, rejectedIDs(t, err)); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("a rejected set wrote: %+v", w)
	}
	// The set changes the CRD so that the resource becomes valid: the
	// resources wait for the new schema instead of failing on the old one.
	cs, err = m.Apply(ctx, objects(t, crd(10)+gadget("small", 2)+gadget("big", 8)), opts)
	if err != nil {
		t.Fatalf("CRD change and resources: %v", err)
	}
	want := map[string]ssa.Action{
		"CustomResourceDefinition.apiextensions.k8s.io/gadgets." + group: ssa.ActionConfigured,
		"Gadget." + group + "/" + ns + "/small":                          ssa.ActionConfigured,
		"Gadget." + group + "/" + ns + "/big":                            ssa.ActionCreated,
	}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}

func TestApplyPreflightImmutableChange(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	set := func(app, value string) []*unstructured.Unstructured {
		return objects(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: sibling}
data: {v: %[2]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec: {containers: [{name: web, image: nginx}]}
`, app, value))
	}
	opts := ssa.ApplyOptions{DefaultNamespace: ns}
	if _, err := m.Apply(ctx, set("a", "one"), opts); err != nil {
		t.Fatal(err)
	}
	// Without recreation an immutable change is a rejection: the sibling
	// is not changed.
	rec.reset()
	_, err := m.Apply(ctx, set("b", "two"), opts)
	if diff := cmp.Diff([]string{"Deployment.apps/" + ns + "/web"}, rejectedIDs(t, err)); diff != "" {
		t.Errorf("rejected (-want +got):\n%s", diff)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("a rejected set wrote: %+v", w)
	}
	// With it, the pre-flight lets it through and the object is recreated.
	opts.Recreate = true
	cs, err := m.Apply(ctx, set("b", "two"), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ssa.Action{"ConfigMap/" + ns + "/sibling": ssa.ActionConfigured, "Deployment.apps/" + ns + "/web": ssa.ActionRecreated}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}
