package ssa

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

func fieldsEntry(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

func TestTakeoverManagedFields(t *testing.T) {
	t.Parallel()
	entries := []metav1.ManagedFieldsEntry{
		fieldsEntry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, `{"f:data":{"f:a":{}},"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}}}`),
		fieldsEntry("gitops", metav1.ManagedFieldsOperationApply, `{"f:data":{"f:b":{}}}`),
		fieldsEntry("hpa", metav1.ManagedFieldsOperationUpdate, `{"f:data":{"f:c":{}}}`),
		fieldsEntry("kubectl", metav1.ManagedFieldsOperationApply, `{"f:data":{"f:d":{}}}`), // server-side kubectl: not taken by default
	}
	got, ok, err := takeoverManagedFields(entries, DefaultTakeoverManagers(), "gitops", "v1")
	if err != nil || !ok {
		t.Fatalf("takeover = %v, %v", ok, err)
	}
	var managers []string
	var owner *metav1.ManagedFieldsEntry
	for i, e := range got {
		managers = append(managers, e.Manager+"/"+string(e.Operation))
		if e.Manager == "gitops" {
			owner = &got[i]
		}
	}
	if diff := cmp.Diff([]string{"hpa/Update", "kubectl/Apply", "gitops/Apply"}, managers); diff != "" {
		t.Errorf("managers (-want +got):\n%s", diff)
	}
	set := &fieldpath.Set{}
	if err := set.FromJSON(strings.NewReader(string(owner.FieldsV1.Raw))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []fieldpath.Path{
		fieldpath.MakePathOrDie("data", "a"), fieldpath.MakePathOrDie("data", "b"),
		fieldpath.MakePathOrDie("metadata", "annotations", LastAppliedAnnotation),
	} {
		if !set.Has(p) {
			t.Errorf("owner set lacks %s: %s", p, owner.FieldsV1.Raw)
		}
	}
	if set.Has(fieldpath.MakePathOrDie("data", "c")) {
		t.Error("owner took the hpa's field")
	}
	if _, ok, _ := takeoverManagedFields(entries[1:3], DefaultTakeoverManagers(), "gitops", "v1"); ok {
		t.Error("takeover reported with no takeover manager present")
	}
}

func TestWithoutOthersFields(t *testing.T) {
	t.Parallel()
	live := obj("apps/v1", "Deployment", "ns", "web", nil)
	live.SetManagedFields([]metav1.ManagedFieldsEntry{
		fieldsEntry("hpa", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:replicas":{}}}`),
		fieldsEntry("injector", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{}}}}}},"f:metadata":{"f:labels":{".":{},"f:team":{}}}}`),
		fieldsEntry("gitops", metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:paused":{}}}`),
	})
	desired := obj("apps/v1", "Deployment", "ns", "web", map[string]any{
		"spec": map[string]any{
			"replicas": int64(3),
			"paused":   false,
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "app", "image": "app:2", "args": []any{"x"}},
				map[string]any{"name": "side", "image": "side:1"},
			}}},
		},
	})
	desired.SetLabels(map[string]string{"team": "a", "app": "web"})
	got, err := withoutOthersFields(desired, live, "gitops")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "ns", "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{
			"paused": false,
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "app", "args": []any{"x"}},
				map[string]any{"name": "side", "image": "side:1"},
			}}},
		},
	}
	if diff := cmp.Diff(want, got.Object); diff != "" {
		t.Errorf("stripped object (-want +got):\n%s", diff)
	}
	if _, ok, _ := unstructured.NestedInt64(desired.Object, "spec", "replicas"); !ok {
		t.Error("input object modified")
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	svc := obj("v1", "Service", "ns", "s", map[string]any{"spec": map[string]any{"ports": []any{
		map[string]any{"port": int64(80)}, map[string]any{"port": int64(53), "protocol": "UDP"},
	}}})
	sec := obj("v1", "Secret", "ns", "s", map[string]any{"stringData": map[string]any{"k": "v"}, "data": map[string]any{"o": "eA=="}})
	dep := obj("apps/v1", "Deployment", "ns", "d", map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []any{map[string]any{"name": "a", "ports": []any{map[string]any{"containerPort": int64(8080)}}}},
	}}}})
	for _, o := range []*unstructured.Unstructured{svc, sec, dep} {
		if err := normalize(o); err != nil {
			t.Fatal(err)
		}
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if ports[0].(map[string]any)["protocol"] != "TCP" || ports[1].(map[string]any)["protocol"] != "UDP" {
		t.Errorf("service ports = %v", ports)
	}
	data, _, _ := unstructured.NestedStringMap(sec.Object, "data")
	if diff := cmp.Diff(map[string]string{"k": "dg==", "o": "eA=="}, data); diff != "" {
		t.Errorf("secret data (-want +got):\n%s", diff)
	}
	if _, ok := sec.Object["stringData"]; ok {
		t.Error("stringData kept")
	}
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if p := cs[0].(map[string]any)["ports"].([]any)[0].(map[string]any)["protocol"]; p != "TCP" {
		t.Errorf("container port protocol = %v", p)
	}
	bad := obj("v1", "Secret", "ns", "s", map[string]any{"stringData": map[string]any{"k": int64(1)}})
	if err := normalize(bad); err == nil {
		t.Error("non-string stringData accepted")
	}
}

func TestMaskSecret(t *testing.T) {
	t.Parallel()
	before := map[string]any{"data": map[string]any{"same": "c2FtZQ==", "changed": "b2xk", "gone": "eA=="},
		"metadata": map[string]any{"annotations": map[string]any{LastAppliedAnnotation: `{"data":{"same":"c2FtZQ=="}}`}}}
	after := map[string]any{"data": map[string]any{"same": "c2FtZQ==", "changed": "bmV3", "new": "eQ=="}}
	maskSecret(before, after)
	wantBefore := map[string]any{"data": map[string]any{"same": maskSame, "changed": maskBefore, "gone": maskSame},
		"metadata": map[string]any{"annotations": map[string]any{LastAppliedAnnotation: maskSame}}}
	wantAfter := map[string]any{"data": map[string]any{"same": maskSame, "changed": maskAfter, "new": maskSame}}
	if diff := cmp.Diff(wantBefore, before); diff != "" {
		t.Errorf("before (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAfter, after); diff != "" {
		t.Errorf("after (-want +got):\n%s", diff)
	}
}

func TestJSONPatch(t *testing.T) {
	t.Parallel()
	a := map[string]any{"spec": map[string]any{"replicas": int64(1), "old": "x", "list": []any{"a", "b", "c"}}, "metadata": map[string]any{"annotations": map[string]any{"a/b": "1"}}}
	b := map[string]any{"spec": map[string]any{"replicas": int64(2), "list": []any{"a", "z"}, "new": true}, "metadata": map[string]any{"annotations": map[string]any{"a/b": "2"}}}
	got, _ := json.Marshal(jsonPatch(nil, a, b, false))
	want := `[{"op":"replace","path":"/metadata/annotations/a~1b","value":"2"},{"op":"remove","path":"/spec/old"},` +
		`{"op":"replace","path":"/spec/list/1","value":"z"},{"op":"remove","path":"/spec/list/2"},{"op":"add","path":"/spec/new","value":true},` +
		`{"op":"replace","path":"/spec/replicas","value":2}]`
	if string(got) != want {
		t.Errorf("patch =\n%s\nwant\n%s", got, want)
	}
}

func TestParseJSONPointer(t *testing.T) {
	t.Parallel()
	got, err := ParseJSONPointer("/metadata/annotations/a~1b~0c/0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"metadata", "annotations", "a/b~c", "0"}, got); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "spec", "/a~2", "/a~"} {
		if _, err := ParseJSONPointer(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ParseJSONPointer(%q) error = %v", bad, err)
		}
	}
	doc := map[string]any{"spec": map[string]any{"replicas": int64(1), "list": []any{"a", map[string]any{"x": 1}}}}
	removePointer(doc, []string{"spec", "replicas"})
	removePointer(doc, []string{"spec", "list", "1", "x"})
	removePointer(doc, []string{"spec", "list", "9"})
	removePointer(doc, []string{"nope", "deeper"})
	if diff := cmp.Diff(map[string]any{"spec": map[string]any{"list": []any{"a", map[string]any{}}}}, doc); diff != "" {
		t.Errorf("after removals (-want +got):\n%s", diff)
	}
}

func FuzzParseJSONPointer(f *testing.F) {
	for _, s := range []string{"/spec/replicas", "/a~1b", "/~", "", "//", "/a~0~1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tokens, err := ParseJSONPointer(s)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, tok := range tokens {
			b.WriteByte('/')
			b.WriteString(escapePointer(tok))
		}
		if b.String() != s {
			t.Fatalf("round trip of %q gave %q", s, b.String())
		}
	})
}

func TestInventory(t *testing.T) {
	t.Parallel()
	old := NewInventory(
		obj("v1", "ConfigMap", "ns", "b", nil),
		obj("v1", "ConfigMap", "ns", "a", nil),
		obj("apps/v1", "Deployment", "ns", "web", nil),
		obj("v1", "Namespace", "", "ns", nil),
	)
	next := NewInventory(obj("v1", "ConfigMap", "ns", "a", nil), obj("v1", "Namespace", "", "ns", nil))
	stale := old.Diff(next)
	want := []InventoryEntry{{ID: "ns_b__ConfigMap", Version: "v1"}, {ID: "ns_web_apps_Deployment", Version: "v1"}}
	if diff := cmp.Diff(want, stale.Entries); diff != "" {
		t.Errorf("stale (-want +got):\n%s", diff)
	}
	objs, err := stale.Objects()
	if err != nil || objs[1].GetAPIVersion() != "apps/v1" || objs[1].GetNamespace() != "ns" {
		t.Errorf("Objects = %v, %v", objs, err)
	}
	cm, err := old.ConfigMap(keyOf("ns", "inv"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := InventoryFromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(old, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if !strings.Contains(cm.Data[InventoryConfigMapKey], `{"id":"_ns__Namespace","v":"v1"}`) {
		t.Errorf("stored form is not Flux's: %s", cm.Data[InventoryConfigMapKey])
	}
	for _, bad := range []string{`{`, `{"entries":[{"id":"x","v":"v1"}]}`, `{"entries":[{"id":"a_b_c_D","v":""}]}`, `{"entries":[{"id":"a_b_c_D","v":"v/1"}]}`} {
		if _, err := ParseInventory([]byte(bad)); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ParseInventory(%s) error = %v", bad, err)
		}
	}
}

func FuzzParseInventory(f *testing.F) {
	f.Add([]byte(`{"entries":[{"id":"ns_a__ConfigMap","v":"v1"}]}`))
	f.Add([]byte(`{"entries":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory(data)
		if err != nil {
			return
		}
		if _, err := inv.Objects(); err != nil {
			t.Fatalf("parsed inventory has bad objects: %v", err)
		}
	})
}

func keyOf(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func TestComputeStatus(t *testing.T) {
	t.Parallel()
	cond := func(typ, status string) map[string]any {
		return map[string]any{"type": typ, "status": status, "message": typ + " says so"}
	}
	withConds := func(u *unstructured.Unstructured, conds ...any) *unstructured.Unstructured {
		_ = unstructured.SetNestedSlice(u.Object, conds, "status", "conditions")
		return u
	}
	rules, err := compileRules([]HealthRule{{Group: "example.com", Kind: "Gate", Current: `self.status.open`, Failed: `self.status.broken`}})
	if err != nil {
		t.Fatal(err)
	}
	gate := func(status map[string]any) *unstructured.Unstructured {
		return obj("example.com/v1", "Gate", "ns", "g", map[string]any{"status": status})
	}
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want Status
	}{
		{"absent", nil, StatusNotFound},
		{"stalled", withConds(obj("example.com/v1", "Thing", "ns", "t", nil), cond("Ready", "False"), cond("Stalled", "True")), StatusFailed},
		{"ready", withConds(obj("example.com/v1", "Thing", "ns", "t", nil), cond("Ready", "True")), StatusCurrent},
		{"not ready", withConds(obj("example.com/v1", "Thing", "ns", "t", nil), cond("Ready", "False")), StatusInProgress},
		{"job running", obj("batch/v1", "Job", "ns", "j", map[string]any{"status": map[string]any{"startTime": "2026-01-01T00:00:00Z", "active": int64(1)}}), StatusInProgress},
		{"job complete", withConds(obj("batch/v1", "Job", "ns", "j", map[string]any{"status": map[string]any{"startTime": "2026-01-01T00:00:00Z"}}), cond("Complete", "True")), StatusCurrent},
		{"job failed", withConds(obj("batch/v1", "Job", "ns", "j", map[string]any{"status": map[string]any{"startTime": "2026-01-01T00:00:00Z"}}), cond("Failed", "True")), StatusFailed},
		{"rule current", gate(map[string]any{"open": true, "broken": false}), StatusCurrent},
		{"rule failed first", gate(map[string]any{"open": true, "broken": true}), StatusFailed},
		{"rule no match", gate(map[string]any{"open": false, "broken": false}), StatusInProgress},
		{"rule eval error", gate(map[string]any{}), StatusInProgress},
	}
	for _, tt := range tests {
		id := ObjectID{Kind: "x"}
		if tt.obj != nil {
			id = IDOf(tt.obj)
		}
		if got := computeStatus(id, tt.obj, rules); got.Status != tt.want {
			t.Errorf("%s: status = %s (%s), want %s", tt.name, got.Status, got.Message, tt.want)
		}
	}
	if _, err := compileRules([]HealthRule{{Kind: "X", Current: "1 +"}}); err == nil {
		t.Error("bad expression compiled")
	}
	if _, err := compileRules([]HealthRule{{Kind: "X", Current: strings.Repeat("a", maxExpression+1)}}); err == nil {
		t.Error("oversized expression compiled")
	}
}

func TestIsImmutableError(t *testing.T) {
	t.Parallel()
	gk := schema.GroupKind{Group: "batch", Kind: "Job"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"cause", apierrors.NewInvalid(gk, "j", field.ErrorList{field.Invalid(field.NewPath("spec", "template"), "x", "field is immutable")}), true},
		{"forbidden cause", apierrors.NewInvalid(gk, "s", field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas' are forbidden")}), true},
		{"other invalid", apierrors.NewInvalid(gk, "j", field.ErrorList{field.Required(field.NewPath("spec", "template"), "")}), false},
		{"message fallback", &apierrors.StatusError{ErrStatus: metav1.Status{Reason: metav1.StatusReasonInvalid, Message: "spec.selector: field is immutable"}}, true},
		{"not invalid", apierrors.NewConflict(schema.GroupResource{Resource: "jobs"}, "j", errors.New("field is immutable")), false},
		{"plain", errors.New("field is immutable"), false},
	}
	for _, tt := range tests {
		if got := isImmutableError(fmt.Errorf("wrapped: %w", tt.err)); got != tt.want {
			t.Errorf("%s: isImmutableError = %v, want %v", tt.name, got, tt.want)
		}
	}
}
