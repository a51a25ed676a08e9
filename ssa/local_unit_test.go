package ssa

import (
	"crypto/sha256"
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSameObject(t *testing.T) {
	t.Parallel()
	base := func() *unstructured.Unstructured {
		u := obj("v1", "ConfigMap", "ns", "cm", map[string]any{"data": map[string]any{"a": "1"}})
		u.SetResourceVersion("7")
		u.SetManagedFields([]metav1.ManagedFieldsEntry{fieldsEntry("gitops", metav1.ManagedFieldsOperationApply, `{"f:data":{"f:a":{}}}`)})
		return u
	}
	now := metav1.Now()
	tests := []struct {
		name   string
		change func(u *unstructured.Unstructured)
		same   bool
	}{
		{"identical", func(*unstructured.Unstructured) {}, true},
		{"resourceVersion and generation", func(u *unstructured.Unstructured) { u.SetResourceVersion("8"); u.SetGeneration(3) }, true},
		{"managed fields time", func(u *unstructured.Unstructured) {
			mf := u.GetManagedFields()
			mf[0].Time = &now
			u.SetManagedFields(mf)
		}, true},
		{"a value", func(u *unstructured.Unstructured) { u.Object["data"] = map[string]any{"a": "2"} }, false},
		{"a field more", func(u *unstructured.Unstructured) { u.Object["binaryData"] = map[string]any{} }, false},
		{"a label", func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"x": "y"}) }, false},
		{"ownership", func(u *unstructured.Unstructured) {
			u.SetManagedFields([]metav1.ManagedFieldsEntry{fieldsEntry("other", metav1.ManagedFieldsOperationApply, `{"f:data":{"f:a":{}}}`)})
		}, false},
		{"an entry more", func(u *unstructured.Unstructured) {
			u.SetManagedFields(append(u.GetManagedFields(), fieldsEntry("before-first-apply", metav1.ManagedFieldsOperationUpdate, `{}`)))
		}, false},
	}
	for _, tt := range tests {
		a, b := base(), base()
		tt.change(b)
		if got := sameObject(a, b); got != tt.same {
			t.Errorf("%s: sameObject = %v, want %v", tt.name, got, tt.same)
		}
		if got := sameObject(b, a); got != tt.same {
			t.Errorf("%s (swapped): sameObject = %v, want %v", tt.name, got, tt.same)
		}
	}
}

func TestWireNumbers(t *testing.T) {
	t.Parallel()
	v := map[string]any{"a": 8080.0, "b": 0.5, "c": []any{2.0, "x", map[string]any{"d": -3.0}}, "e": int64(4)}
	if err := wireNumbers(v); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(8080), "b": 0.5, "c": []any{int64(2), "x", map[string]any{"d": int64(-3)}}, "e": int64(4)}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Past an int64 a whole float cannot be compared exactly.
	if err := wireNumbers(map[string]any{"big": math.Pow(2, 63)}); err == nil {
		t.Error("2^63 as a float accepted")
	}
}

func TestDecisionsAreBounded(t *testing.T) {
	t.Parallel()
	var d decisions
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte(fmt.Sprint(i))) }
	d.put(key(0), "")
	for i := 1; i <= maxDecisions; i++ {
		d.put(key(i), "why")
		if i == maxDecisions/4 {
			if _, ok := d.get(key(0)); !ok { // moved back into the current generation
				t.Fatal("entry lost early")
			}
		}
	}
	if n := len(d.cur) + len(d.prev); n > maxDecisions {
		t.Errorf("%d entries, want at most %d", n, maxDecisions)
	}
	if why, ok := d.get(key(maxDecisions)); !ok || why != "why" {
		t.Errorf("latest entry = %q, %v", why, ok)
	}
	if _, ok := d.get(key(1)); ok {
		t.Error("the oldest entries were kept")
	}
}

func TestDecisionKey(t *testing.T) {
	t.Parallel()
	live := obj("v1", "ConfigMap", "ns", "cm", nil)
	live.SetUID("u1")
	live.SetResourceVersion("5")
	desired := obj("v1", "ConfigMap", "ns", "cm", map[string]any{"data": map[string]any{"a": "1"}})
	k := func(url string, d, l *unstructured.Unstructured, force bool) [sha256.Size]byte {
		key, err := decisionKey(url, d, l, "gitops", force)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	base := k("/openapi/v3/api/v1?hash=A", desired, live, true)
	if base != k("/openapi/v3/api/v1?hash=A", desired.DeepCopy(), live.DeepCopy(), true) {
		t.Error("the key of equal inputs differs")
	}
	other := live.DeepCopy()
	other.SetResourceVersion("6")
	changed := desired.DeepCopy()
	changed.Object["data"] = map[string]any{"a": "2"}
	for name, key := range map[string][sha256.Size]byte{
		"schema":          k("/openapi/v3/api/v1?hash=B", desired, live, true),
		"resourceVersion": k("/openapi/v3/api/v1?hash=A", desired, other, true),
		"desired":         k("/openapi/v3/api/v1?hash=A", changed, live, true),
		"force":           k("/openapi/v3/api/v1?hash=A", desired, live, false),
	} {
		if key == base {
			t.Errorf("a different %s gives the same key", name)
		}
	}
}

func TestAdmissionRuleMutates(t *testing.T) {
	t.Parallel()
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	sel, _ := labels.Parse("inject=true")
	tests := []struct {
		name string
		rule admissionRule
		old  map[string]string
		want bool
	}{
		{"everything", admissionRule{groups: []string{"*"}, resources: []string{"*"}, operations: []string{"*"}}, nil, true},
		{"create only", admissionRule{groups: []string{"apps"}, resources: []string{"deployments"}, operations: []string{"CREATE"}}, nil, false},
		{"other resource", admissionRule{groups: []string{"apps"}, resources: []string{"statefulsets"}, operations: []string{"UPDATE"}}, nil, false},
		{"subresources only count too", admissionRule{groups: []string{"apps"}, resources: []string{"deployments/*"}, operations: []string{"UPDATE"}}, nil, true},
		{"all with subresources", admissionRule{groups: []string{"*"}, resources: []string{"*/*"}, operations: []string{"UPDATE"}}, nil, true},
		{"other group, exact", admissionRule{groups: []string{"extensions"}, resources: []string{"deployments"}, operations: []string{"UPDATE"}}, nil, false},
		{"other group, equivalent", admissionRule{groups: []string{"extensions"}, resources: []string{"deployments"}, operations: []string{"UPDATE"}, anyGroup: true}, nil, true},
		{"selector matches old", admissionRule{groups: []string{"*"}, resources: []string{"*"}, operations: []string{"*"}, selector: sel}, map[string]string{"inject": "true"}, true},
		{"selector matches neither", admissionRule{groups: []string{"*"}, resources: []string{"*"}, operations: []string{"*"}, selector: sel}, map[string]string{"inject": "false"}, false},
	}
	for _, tt := range tests {
		if got := tt.rule.mutates(deployments, tt.old, nil); got != tt.want {
			t.Errorf("%s: mutates = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIgnoreFields(t *testing.T) {
	t.Parallel()
	live := obj("apps/v1", "Deployment", "ns", "web", map[string]any{
		"spec": map[string]any{
			"replicas": int64(5),
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "app", "image": "app:1", "args": []any{"a", "b"}},
				map[string]any{"name": "side", "image": "side:1"},
			}}},
		},
	})
	live.SetAnnotations(map[string]string{"ours": "1", "theirs": "2"})
	live.SetManagedFields([]metav1.ManagedFieldsEntry{
		fieldsEntry("gitops", metav1.ManagedFieldsOperationApply, `{"f:metadata":{"f:annotations":{"f:ours":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:name":{},"f:image":{},"f:args":{}}}}}}}`),
		fieldsEntry("injector", metav1.ManagedFieldsOperationApply, `{"f:metadata":{"f:annotations":{"f:theirs":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"side\"}":{".":{},"f:name":{},"f:image":{}}}}}}}`),
		{Manager: "hpa", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "scale", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:replicas":{}}}`)}},
	})
	desired := func() *unstructured.Unstructured {
		d := obj("apps/v1", "Deployment", "ns", "web", map[string]any{
			"spec": map[string]any{
				"replicas": int64(2),
				"template": map[string]any{"spec": map[string]any{"containers": []any{
					map[string]any{"name": "app", "image": "app:2", "args": []any{"c"}},
				}}},
			},
		})
		d.SetAnnotations(map[string]string{"ours": "changed", "new": "3"})
		return d
	}
	tests := []struct {
		name  string
		paths []string
		want  func(d *unstructured.Unstructured)
	}{
		{"the autoscaler's field is left out", []string{"/spec/replicas"}, func(d *unstructured.Unstructured) {
			unstructured.RemoveNestedField(d.Object, "spec", "replicas")
		}},
		{"a field only the owner holds keeps its live value", []string{"/spec/template/spec/containers/0/image"}, func(d *unstructured.Unstructured) {
			d.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = "app:1"
		}},
		{"a pointer into an atomic list ignores the list", []string{"/spec/template/spec/containers/0/args/1"}, func(d *unstructured.Unstructured) {
			d.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"] = []any{"a", "b"}
		}},
		{"another manager's list item is not sent", []string{"/spec/template/spec/containers/1/image"}, func(d *unstructured.Unstructured) {}},
		{"a map both hold, member by member", []string{"/metadata/annotations"}, func(d *unstructured.Unstructured) {
			d.SetAnnotations(map[string]string{"ours": "1"})
		}},
		{"absent on the live object: not sent", []string{"/spec/paused"}, func(d *unstructured.Unstructured) {}},
		{"through a list item the desired object lacks", []string{"/spec/template/spec/containers/1/name"}, func(d *unstructured.Unstructured) {}},
	}
	for _, tt := range tests {
		rules, err := compileIgnoreRules([]IgnoreRule{{Paths: tt.paths}})
		if err != nil {
			t.Fatal(err)
		}
		in := desired()
		got, err := ignoreFields(in, live, rules, "gitops")
		if err != nil {
			t.Fatal(err)
		}
		want := desired()
		tt.want(want)
		if diff := cmp.Diff(want.Object, got.Object); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
		if diff := cmp.Diff(desired().Object, in.Object); diff != "" {
			t.Errorf("%s: input modified:\n%s", tt.name, diff)
		}
	}
	// A new object is created as written; a rule for another kind changes
	// nothing.
	rules, _ := compileIgnoreRules([]IgnoreRule{{Paths: []string{"/spec/replicas"}}, {Paths: []string{"/spec"}, Selector: Selector{Kind: "StatefulSet"}}})
	if got, _ := ignoreFields(desired(), nil, rules[:1], "gitops"); !cmp.Equal(got.Object, desired().Object) {
		t.Error("a new object was changed")
	}
	if got, _ := ignoreFields(desired(), live, rules[1:], "gitops"); !cmp.Equal(got.Object, desired().Object) {
		t.Error("a rule for StatefulSets changed a Deployment")
	}
}

func TestNilChangeSetAndInventory(t *testing.T) {
	t.Parallel()
	var cs *ChangeSet
	if cs.Count(ActionCreated) != 0 || cs.Changed() || cs.String() != "" {
		t.Error("nil ChangeSet is not empty")
	}
	if inv := InventoryFromChangeSet(nil); inv == nil || len(inv.Entries) != 0 {
		t.Errorf("InventoryFromChangeSet(nil) = %v", inv)
	}
	var inv *Inventory
	if objs, err := inv.Objects(); err != nil || len(objs) != 0 {
		t.Errorf("nil Inventory objects = %v, %v", objs, err)
	}
}

const openAPISeed = `{"openapi":"3.0.0","info":{"title":"t","version":"v1"},"paths":{},"components":{"schemas":{
"io.example.v1.Widget":{"type":"object","x-kubernetes-group-version-kind":[{"group":"example.io","kind":"Widget","version":"v1"}],
 "properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},
  "metadata":{"type":"object","properties":{"name":{"type":"string"},"labels":{"type":"object","additionalProperties":{"type":"string"}}}},
  "spec":{"type":"object","properties":{"size":{"type":"integer"},"items":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["name"],
   "items":{"type":"object","properties":{"name":{"type":"string"},"v":{"x-kubernetes-int-or-string":true}}}},
   "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}}}}`

// FuzzTypeConverter feeds OpenAPI documents, as a hostile API server could
// send them, to the schema conversion and a typed conversion with it: an
// error is fine, a panic is not.
func FuzzTypeConverter(f *testing.F) {
	f.Add([]byte(openAPISeed), []byte(`{"apiVersion":"example.io/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1,"items":[{"name":"a","v":1}],"free":{"x":[1]}}}`))
	f.Add([]byte(`{"components":{"schemas":{"a":{"$ref":"#/components/schemas/a"}}}}`), []byte(`{}`))
	f.Add([]byte(`{"components":{"schemas":{"a":{"type":"array","x-kubernetes-list-type":"map"}}}}`), []byte(`{"kind":"x"}`))
	f.Fuzz(func(t *testing.T, doc, object []byte) {
		tc, err := typeConverter(doc)
		if err != nil {
			return
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(object); err != nil {
			return
		}
		tv, err := tc.ObjectToTyped(u)
		if err != nil {
			return
		}
		_ = typedEverywhere(tv)
		_, _ = tv.ToFieldSet()
	})
}
