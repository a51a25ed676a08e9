package ssa_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

func TestApplyCRDNamespaceAndCustomResources(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, _ := newManager(t, nil)
	suffix := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	group := "crdns." + suffix + ".example.com"
	// A fresh name per run: with -count>1 the previous run's namespace may
	// still be terminating.
	ns := "crd-ns-" + utilrand.String(6)
	set := objects(t, fmt.Sprintf(`
apiVersion: example.com/v1
kind: Widget
metadata: {name: one, namespace: %[2]s}
spec: {size: 1}
---
apiVersion: %[1]s/v1
kind: Widget
metadata: {name: one, namespace: %[2]s}
spec: {size: 1}
---
apiVersion: %[1]s/v1
kind: Widget
metadata: {name: two, namespace: %[2]s}
spec: {size: 2}
---
apiVersion: v1
kind: Namespace
metadata: {name: %[2]s}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
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
              size: {type: integer}
`, group, ns))
	// The first object's kind is unknown to the cluster and to the set:
	// the whole set is refused before any write.
	if _, err := m.Apply(ctx, set, ssa.ApplyOptions{}); !errors.Is(err, ssa.ErrInvalidObject) || !strings.Contains(err.Error(), "Widget.example.com/"+ns+"/one") {
		t.Fatalf("Apply with an unknown kind: %v", err)
	}
	set = set[1:]
	t.Cleanup(func() {
		_ = env.Client().Delete(ctx, set[3])
		_ = env.Client().Delete(ctx, set[2])
	})
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := map[string]ssa.Action{
		"Widget." + group + "/" + ns + "/one":                            ssa.ActionCreated,
		"Widget." + group + "/" + ns + "/two":                            ssa.ActionCreated,
		"Namespace/" + ns:                                                ssa.ActionCreated,
		"CustomResourceDefinition.apiextensions.k8s.io/widgets." + group: ssa.ActionCreated,
	}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Errorf("first apply (-want +got):\n%s", diff)
	}
	w := &unstructured.Unstructured{}
	w.SetAPIVersion(group + "/v1")
	w.SetKind("Widget")
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: "two"}, w); err != nil {
		t.Fatalf("custom resource not created: %v", err)
	}
	if got := w.GetLabels()["test.gitopskit.dev/name"]; got != "app" {
		t.Errorf("ownership label = %q, want app", got)
	}
	cs, err = m.Apply(ctx, set, ssa.ApplyOptions{})
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if n := cs.Count(ssa.ActionUnchanged); n != 4 {
		t.Errorf("second apply: %d unchanged, want 4:\n%s", n, cs)
	}
}

const workloads = `
apiVersion: v1
kind: ConfigMap
metadata: {name: config}
data: {key: value}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 8080}]
`

func TestReapplyUnchangedIssuesNoWrite(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil)
	set := objects(t, workloads)
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if n := cs.Count(ssa.ActionCreated); n != len(set) {
		t.Fatalf("created %d, want %d:\n%s", n, len(set), cs)
	}
	versions := map[string]string{}
	for _, o := range set {
		live := o.DeepCopy()
		if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: o.GetName()}, live); err != nil {
			t.Fatal(err)
		}
		versions[o.GetKind()] = live.GetResourceVersion()
	}
	rec.reset()
	cs, err = m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatalf("re-Apply: %v", err)
	}
	if n := cs.Count(ssa.ActionUnchanged); n != len(set) {
		t.Errorf("unchanged %d, want %d:\n%s", n, len(set), cs)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("re-apply of an unchanged set wrote: %+v", w)
	}
	for _, o := range set {
		live := o.DeepCopy()
		if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: o.GetName()}, live); err != nil {
			t.Fatal(err)
		}
		if live.GetResourceVersion() != versions[o.GetKind()] {
			t.Errorf("%s resourceVersion changed %s -> %s", o.GetKind(), versions[o.GetKind()], live.GetResourceVersion())
		}
	}
	// One change: one write, the rest untouched.
	if err := unstructured.SetNestedField(set[0].Object, "other", "data", "key"); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	cs, err = m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatalf("Apply after change: %v", err)
	}
	if got := actions(cs)["ConfigMap/"+ns+"/config"]; got != ssa.ActionConfigured {
		t.Errorf("changed ConfigMap: %s", got)
	}
	if w := rec.writes(); len(w) != 1 || w[0].Method != "PATCH" || !strings.HasSuffix(w[0].Path, "/configmaps/config") {
		t.Errorf("writes after one change = %+v, want one PATCH of the ConfigMap", w)
	}
}

func TestApplyValidation(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m, rec := newManager(t, nil)
	tests := []struct {
		name string
		docs string
		opts ssa.ApplyOptions
		want []string
	}{
		{"namespace on cluster-scoped", "apiVersion: v1\nkind: Namespace\nmetadata: {name: cx, namespace: cy}\n", ssa.ApplyOptions{}, []string{"Namespace/cy/cx", "cluster-scoped"}},
		{"namespace not a string", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: 12}\n", ssa.ApplyOptions{}, []string{"metadata.namespace"}},
		{"no default namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", ssa.ApplyOptions{}, []string{"ConfigMap/x", "no default namespace"}},
		{"duplicate", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", ssa.ApplyOptions{DefaultNamespace: "d"}, []string{"ConfigMap/d/x appears more than once"}},
		{"bad policy", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {ssa.gitopskit.dev/apply: Sometimes}}\n", ssa.ApplyOptions{DefaultNamespace: "d"}, []string{"ConfigMap/d/x", "Sometimes"}},
		{"no name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", ssa.ApplyOptions{DefaultNamespace: "d"}, []string{"metadata.name are required"}},
	}
	for _, tt := range tests {
		cs, err := m.Apply(ctx, objects(t, tt.docs), tt.opts)
		if !errors.Is(err, ssa.ErrInvalidObject) || cs == nil || len(cs.Changes) != 0 {
			t.Errorf("%s: Apply = %v, %v; want ErrInvalidObject and an empty ChangeSet", tt.name, cs, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", tt.name, err, w)
			}
		}
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("invalid sets caused writes: %+v", w)
	}
}

func TestImmutableFieldChange(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	deploy := func(app string, annotations string) []*unstructured.Unstructured {
		return objects(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {%s}}
spec:
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec: {containers: [{name: web, image: nginx}]}
`, annotations, app))
	}
	if _, err := m.Apply(ctx, deploy("a", ""), ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	live := &unstructured.Unstructured{}
	live.SetAPIVersion("apps/v1")
	live.SetKind("Deployment")
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, live); err != nil {
		t.Fatal(err)
	}
	uid := live.GetUID()

	cs, err := m.Apply(ctx, deploy("b", ""), ssa.ApplyOptions{DefaultNamespace: ns})
	var se *ssa.SetError
	if !errors.As(err, &se) || len(se.Failed()) != 1 || se.Failed()[0].Name != "web" || !apierrors.IsInvalid(err) {
		t.Fatalf("immutable change without recreate: %v", err)
	}
	if !strings.Contains(err.Error(), "Deployment.apps/"+ns+"/web") || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("error does not name the object and the cause: %v", err)
	}
	if len(cs.Changes) != 0 {
		t.Errorf("ChangeSet of a failed apply: %s", cs)
	}

	cs, err = m.Apply(ctx, deploy("b", "ssa.gitopskit.dev/recreate: enabled"), ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatalf("immutable change with recreate annotation: %v", err)
	}
	if got := actions(cs)["Deployment.apps/"+ns+"/web"]; got != ssa.ActionRecreated {
		t.Errorf("action = %s, want recreated", got)
	}
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, live); err != nil {
		t.Fatal(err)
	}
	if live.GetUID() == uid {
		t.Error("object was not recreated (same UID)")
	}
	sel, _, _ := unstructured.NestedString(live.Object, "spec", "selector", "matchLabels", "app")
	if sel != "b" {
		t.Errorf("selector = %q, want b", sel)
	}
	// The global option does the same without the annotation.
	cs, err = m.Apply(ctx, deploy("c", ""), ssa.ApplyOptions{DefaultNamespace: ns, Recreate: true})
	if err != nil || actions(cs)["Deployment.apps/"+ns+"/web"] != ssa.ActionRecreated {
		t.Fatalf("immutable change with ApplyOptions.Recreate: %v %v", cs, err)
	}
}

func TestTakeoverFromKubectlClientSideApply(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	// What `kubectl apply` (client-side) leaves: an Update by
	// kubectl-client-side-apply and the last-applied annotation.
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: ns, Annotations: map[string]string{
			ssa.LastAppliedAnnotation: `{"apiVersion":"v1","kind":"ConfigMap","data":{"keep":"1","drop":"2"}}`,
		}},
		Data: map[string]string{"keep": "1", "drop": "2"},
	}
	if err := env.Client().Create(ctx, cm, client.FieldOwner("kubectl-client-side-apply")); err != nil {
		t.Fatal(err)
	}
	set := objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: legacy}\ndata: {keep: \"1\", new: \"3\"}\n")
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["ConfigMap/"+ns+"/legacy"]; got != ssa.ActionConfigured {
		t.Errorf("action = %s", got)
	}
	if err := env.Client().Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"keep": "1", "new": "3"}, cm.Data); diff != "" {
		t.Errorf("data after takeover (-want +got):\n%s", diff)
	}
	if _, ok := cm.Annotations[ssa.LastAppliedAnnotation]; ok {
		t.Error("last-applied annotation kept")
	}
	for _, e := range cm.ManagedFields {
		if e.Manager != "gitopskit-test" {
			t.Errorf("manager %s/%s still holds fields: %s", e.Manager, e.Operation, e.FieldsV1.Raw)
		}
	}
	// And the next apply is a no-op.
	cs, err = m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil || cs.Count(ssa.ActionUnchanged) != 1 {
		t.Errorf("apply after takeover: %v %v", cs, err)
	}
}

func TestApplyPolicies(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, _ := newManager(t, nil)
	// An existing object owned by someone else, with a field we also set.
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "merged", Namespace: ns}, Data: map[string]string{"shared": "theirs", "theirs": "x"}}
	if err := env.Client().Create(ctx, other, client.FieldOwner("operator")); err != nil {
		t.Fatal(err)
	}
	present := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "present", Namespace: ns}, Data: map[string]string{"v": "original"}}
	if err := env.Client().Create(ctx, present); err != nil {
		t.Fatal(err)
	}
	set := objects(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored, annotations: {ssa.gitopskit.dev/apply: Ignore}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: present, annotations: {ssa.gitopskit.dev/apply: IfNotPresent}}
data: {v: desired}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: absent, annotations: {ssa.gitopskit.dev/apply: IfNotPresent}}
data: {v: desired}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: merged, annotations: {ssa.gitopskit.dev/apply: Merge}}
data: {shared: ours, mine: "1"}
`)
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ssa.Action{
		"ConfigMap/" + ns + "/ignored": ssa.ActionSkipped,
		"ConfigMap/" + ns + "/present": ssa.ActionSkipped,
		"ConfigMap/" + ns + "/absent":  ssa.ActionCreated,
		"ConfigMap/" + ns + "/merged":  ssa.ActionConfigured,
	}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	get := func(name string) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{}
		err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, cm)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	if get("ignored") != nil {
		t.Error("ignored object created")
	}
	if got := get("present").Data["v"]; got != "original" {
		t.Errorf("IfNotPresent overwrote an existing object: %q", got)
	}
	if diff := cmp.Diff(map[string]string{"shared": "theirs", "theirs": "x", "mine": "1"}, get("merged").Data); diff != "" {
		t.Errorf("merged data (-want +got):\n%s", diff)
	}
}

func TestDependsOnOrdering(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	m, rec := newManager(t, nil, ssa.WithConcurrency(8))
	// a -> b -> c and d -> c, declared in the reverse of the needed order,
	// with unrelated objects around them.
	docs := fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: a, annotations: {config.kubernetes.io/depends-on: /namespaces/%[1]s/ConfigMap/b}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, annotations: {config.kubernetes.io/depends-on: /namespaces/%[1]s/ConfigMap/c}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d, annotations: {config.kubernetes.io/depends-on: "/namespaces/%[1]s/ConfigMap/c, /namespaces/%[1]s/ConfigMap/b"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
`, ns)
	for i := range 6 {
		docs += fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: free-%d}\n", i)
	}
	if _, err := m.Apply(ctx, objects(t, docs), ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, w := range rec.writes() {
		pos[w.Path[strings.LastIndex(w.Path, "/")+1:]] = i
	}
	for _, edge := range [][2]string{{"c", "b"}, {"b", "a"}, {"c", "d"}, {"b", "d"}} {
		if pos[edge[0]] >= pos[edge[1]] {
			t.Errorf("%s applied at %d, not before %s at %d", edge[0], pos[edge[0]], edge[1], pos[edge[1]])
		}
	}
	// A cycle is refused, naming it.
	cyc := objects(t, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: cx, annotations: {config.kubernetes.io/depends-on: /namespaces/%[1]s/ConfigMap/cy}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cy, annotations: {config.kubernetes.io/depends-on: /namespaces/%[1]s/ConfigMap/cx}}
`, ns))
	_, err := m.Apply(ctx, cyc, ssa.ApplyOptions{DefaultNamespace: ns})
	if !errors.Is(err, ssa.ErrDependency) || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/cx -> ConfigMap/"+ns+"/cy -> ConfigMap/"+ns+"/cx") {
		t.Errorf("cycle: %v", err)
	}
}

func TestImpersonatedClientWithoutRBAC(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	user := "limited-" + ns
	env.Create(t,
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "configmaps", Namespace: ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "update"}}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "configmaps", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "configmaps"},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
		},
	)
	m, _ := newManager(t, env.ImpersonatedConfig(user))
	set := objects(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: allowed}
data: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: denied}
stringData: {a: topsecretvalue}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: denied-sa}
---
apiVersion: v1
kind: Pod
metadata: {name: runs-as-sa}
spec:
  serviceAccountName: denied-sa
  containers: [{name: c, image: busybox}]
`)
	// The pre-flight cannot read the objects the user may not touch: the
	// whole set is refused before any write, every such object named.
	cs, err := m.Apply(ctx, set, ssa.ApplyOptions{DefaultNamespace: ns})
	if cs == nil || len(cs.Changes) != 0 {
		t.Errorf("ChangeSet of a refused set = %v, want empty", cs)
	}
	var se *ssa.SetError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *SetError", err)
	}
	failed := map[string]string{}
	for _, o := range se.Objects {
		failed[o.ID.String()] = o.Err.Error()
	}
	for _, id := range []string{"Secret/" + ns + "/denied", "ServiceAccount/" + ns + "/denied-sa", "Pod/" + ns + "/runs-as-sa"} {
		if !strings.Contains(failed[id], "forbidden") {
			t.Errorf("%s: %q, want forbidden", id, failed[id])
		}
	}
	if len(failed) != 3 {
		t.Errorf("failed objects = %v", failed)
	}
	allowed := &corev1.ConfigMap{}
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: "allowed"}, allowed); !apierrors.IsNotFound(err) {
		t.Errorf("the allowed ConfigMap of a refused set was created: %v", err)
	}
	if !apierrors.IsForbidden(err) {
		t.Error("errors.As does not reach the API's Forbidden status")
	}
	if strings.Contains(err.Error(), "topsecretvalue") {
		t.Error("error contains a secret value")
	}
}

func TestOwnerLabels(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	for _, o := range []ssa.Owner{
		{Field: "f", Group: "example.com"},
		{Field: "f", Group: "Not A Prefix", Name: "n"},
		{Field: "f", Group: "example.com", Name: strings.Repeat("n", 64)},
		{Field: "f", Group: "example.com", Name: "n", Namespace: "bad/ns"},
	} {
		if _, err := ssa.NewManager(env.Client(), o); err == nil {
			t.Errorf("NewManager(%+v) accepted", o)
		}
	}
	// A Name without a Group stamps nothing.
	m, err := ssa.NewManager(env.Client(), ssa.Owner{Field: "f", Name: "n", Namespace: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, objects(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"), ssa.ApplyOptions{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client().Get(ctx, types.NamespacedName{Namespace: ns, Name: "plain"}, cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.Labels) != 0 {
		t.Errorf("labels stamped without a Group: %v", cm.Labels)
	}
}
