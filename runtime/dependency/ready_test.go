package dependency_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/dependency"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	testenv.Main(m, &env, testenv.WithCRDs(widgetCRD()))
}

var widgetGVK = schema.GroupVersionKind{Group: "dependency.test.gitopskit.dev", Version: "v1", Kind: "Widget"}

// widgetCRD is a namespaced kind with a status subresource, so that the API
// server maintains metadata.generation.
func widgetCRD() *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets." + widgetGVK.Group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: widgetGVK.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Widget", ListKind: "WidgetList", Plural: "widgets", Singular: "widget"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec":   {Type: "object", XPreserveUnknownFields: &preserve},
						"status": {Type: "object", XPreserveUnknownFields: &preserve},
					},
				}},
			}},
		},
	}
}

// obj builds an unstructured Widget from a generation, a status map and
// extra metadata.
func obj(gen int64, status map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(widgetGVK)
	u.SetNamespace("apps")
	u.SetName("db")
	u.SetGeneration(gen)
	if status != nil {
		u.Object["status"] = status
	}
	return u
}

func ready(status string, extra ...any) map[string]any {
	c := map[string]any{"type": "Ready", "status": status}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func conds(cs ...map[string]any) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

func TestCheckReady(t *testing.T) {
	t.Parallel()
	deleting := obj(2, map[string]any{"observedGeneration": int64(2), "conditions": conds(ready("True"))})
	deleting.SetDeletionTimestamp(&metav1.Time{})
	tests := []struct {
		name       string
		obj        *unstructured.Unstructured
		wantReason string // "" means ready
	}{
		{name: "ready", obj: obj(2, map[string]any{"observedGeneration": int64(2), "conditions": conds(ready("True"))})},
		{name: "ready, generation only on the condition", obj: obj(2, map[string]any{"conditions": conds(ready("True", "observedGeneration", int64(2)))})},
		{name: "ready, JSON numbers", obj: obj(2, map[string]any{"observedGeneration": float64(2), "conditions": conds(ready("True", "observedGeneration", float64(2)))})},
		{
			name:       "false with reason and message",
			obj:        obj(2, map[string]any{"observedGeneration": int64(2), "conditions": conds(map[string]any{"type": "Stalled", "status": "True"}, ready("False", "reason", "Failed", "message", " timeout\n"))}),
			wantReason: "Ready condition is False: Failed: timeout",
		},
		{
			name:       "unknown",
			obj:        obj(2, map[string]any{"observedGeneration": int64(2), "conditions": conds(ready("Unknown", "reason", "Progressing"))}),
			wantReason: "Ready condition is Unknown: Progressing",
		},
		{
			name:       "long message is cut",
			obj:        obj(1, map[string]any{"observedGeneration": int64(1), "conditions": conds(ready("False", "message", strings.Repeat("é", 300)))}),
			wantReason: "Ready condition is False: " + strings.Repeat("é", 128) + "…",
		},
		{name: "no status", obj: obj(1, nil), wantReason: "it has no Ready condition"},
		{name: "no Ready condition", obj: obj(1, map[string]any{"observedGeneration": int64(1), "conditions": conds(map[string]any{"type": "Healthy", "status": "True"})}), wantReason: "it has no Ready condition"},
		{
			name:       "stale status",
			obj:        obj(3, map[string]any{"observedGeneration": int64(2), "conditions": conds(ready("True"))}),
			wantReason: "its status describes generation 2, not the current generation 3",
		},
		{
			name:       "stale Ready condition",
			obj:        obj(3, map[string]any{"observedGeneration": int64(3), "conditions": conds(ready("True", "observedGeneration", int64(2)))}),
			wantReason: "its Ready condition describes generation 2, not the current generation 3",
		},
		{
			name:       "no observed generation",
			obj:        obj(1, map[string]any{"conditions": conds(ready("True"))}),
			wantReason: "its status does not report an observed generation",
		},
		{name: "being deleted", obj: deleting, wantReason: "it is being deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := dependency.CheckReady(t.Context(), tt.obj, dependency.ReadyOptions{})
			checkNotReady(t, err, tt.wantReason)
		})
	}
}

func checkNotReady(t *testing.T, err error, wantReason string) {
	t.Helper()
	if wantReason == "" {
		if err != nil {
			t.Fatalf("CheckReady = %v, want ready", err)
		}
		return
	}
	var nr *dependency.NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("CheckReady = %v, want *NotReadyError", err)
	}
	if nr.Reason != wantReason {
		t.Errorf("reason = %q, want %q", nr.Reason, wantReason)
	}
	if want := "dependency 'apps/db' is not ready: " + wantReason; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
}

func TestCheckReadyExpr(t *testing.T) {
	t.Parallel()
	readyObj := func(labels map[string]string, replicas int64) *unstructured.Unstructured {
		u := obj(1, map[string]any{"observedGeneration": int64(1), "replicas": replicas, "conditions": conds(ready("True"))})
		u.SetLabels(labels)
		return u
	}
	self := &unstructured.Unstructured{}
	self.SetLabels(map[string]string{"app/version": "v2"})

	versionMatch, err := dependency.NewReadyExpr(`dep.metadata.labels['app/version'] == self.metadata.labels['app/version']`)
	if err != nil {
		t.Fatal(err)
	}
	replicas, err := dependency.NewReadyExpr(`dep.?status.?replicas.orValue(0) >= 2`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		obj        client.Object
		opts       dependency.ReadyOptions
		wantReason string
	}{
		{name: "expression true", obj: readyObj(map[string]string{"app/version": "v2"}, 1), opts: dependency.ReadyOptions{Expr: versionMatch, Self: self}},
		{
			name: "expression false", obj: readyObj(map[string]string{"app/version": "v1"}, 1), opts: dependency.ReadyOptions{Expr: versionMatch, Self: self},
			wantReason: `expression "dep.metadata.labels['app/version'] == self.metadata.labels['app/version']" is false`,
		},
		{
			name: "built-in check still applies", obj: obj(1, nil), opts: dependency.ReadyOptions{Expr: replicas},
			wantReason: "it has no Ready condition",
		},
		{name: "expression only: no Ready condition needed", obj: obj(1, map[string]any{"replicas": int64(3)}), opts: dependency.ReadyOptions{Expr: replicas, ExprOnly: true}},
		{
			name: "expression only, false", obj: obj(1, nil), opts: dependency.ReadyOptions{Expr: replicas, ExprOnly: true},
			wantReason: `expression "dep.?status.?replicas.orValue(0) >= 2" is false`,
		},
		{name: "ExprOnly without Expr is the built-in check", obj: obj(1, nil), opts: dependency.ReadyOptions{ExprOnly: true}, wantReason: "it has no Ready condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkNotReady(t, dependency.CheckReady(t.Context(), tt.obj, tt.opts), tt.wantReason)
		})
	}
}

// TestCheckReadyTypedObject checks a typed object (a Deployment, which has
// no Ready condition) with an expression alone.
func TestCheckReadyTypedObject(t *testing.T) {
	t.Parallel()
	expr, err := dependency.NewReadyExpr(`dep.status.readyReplicas == dep.spec.replicas && dep.status.observedGeneration == dep.metadata.generation`)
	if err != nil {
		t.Fatal(err)
	}
	three := int32(3)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "db", Generation: 4},
		Spec:       appsv1.DeploymentSpec{Replicas: &three},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 4, ReadyReplicas: 3},
	}
	checkNotReady(t, dependency.CheckReady(t.Context(), d, dependency.ReadyOptions{Expr: expr, ExprOnly: true}), "")
	d.Status.ReadyReplicas = 2
	checkNotReady(t, dependency.CheckReady(t.Context(), d, dependency.ReadyOptions{Expr: expr, ExprOnly: true}), fmt.Sprintf("expression %q is false", expr))
	checkNotReady(t, dependency.CheckReady(t.Context(), d, dependency.ReadyOptions{}), "it has no Ready condition")
}

func TestNewReadyExprErrors(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		`dep.metadata.name ==`,    // syntax
		`1 + 1`,                   // int, not bool
		`"ready"`,                 // string
		`other.status == 'Ready'`, // undeclared variable
	} {
		if _, err := dependency.NewReadyExpr(expr); !errors.Is(err, dependency.ErrExpression) {
			t.Errorf("NewReadyExpr(%q) = %v, want ErrExpression", expr, err)
		}
	}
}

func TestReadyExprEvalErrors(t *testing.T) {
	t.Parallel()
	big := make([]any, 2000)
	for i := range big {
		big[i] = int64(i)
	}
	u := obj(1, map[string]any{"items": big})
	tests := []struct {
		name    string
		expr    string
		opts    []dependency.ExprOption
		ctx     func() context.Context
		wantIs  error
		wantMsg string
	}{
		{name: "dynamic non-bool result", expr: `dep.metadata.name`, wantIs: dependency.ErrExpression, wantMsg: "not bool"},
		{name: "missing field", expr: `dep.status.nothing == 1`, wantIs: dependency.ErrExpression, wantMsg: "no such key"},
		{
			name: "cost limit", expr: `dep.status.items.all(x, dep.status.items.all(y, x + y >= 0))`,
			opts: []dependency.ExprOption{dependency.WithCostLimit(10_000)}, wantIs: dependency.ErrExpression, wantMsg: "cost limit",
		},
		{
			name: "default cost limit bounds a quadratic expression", expr: `dep.status.items.all(x, dep.status.items.all(y, x + y >= 0))`,
			wantIs: dependency.ErrExpression, wantMsg: "cost limit",
		},
		{
			name: "cancelled", expr: `dep.status.items.all(x, x >= 0)`,
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			wantIs: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := dependency.NewReadyExpr(tt.expr, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			_, err = e.Eval(ctx, u, nil)
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Eval = %v, want %v containing %q", err, tt.wantIs, tt.wantMsg)
			}
			// Through CheckReady the error is not a NotReadyError: the
			// expression is broken, waiting will not help.
			err = dependency.CheckReady(ctx, u, dependency.ReadyOptions{Expr: e, ExprOnly: true})
			var nr *dependency.NotReadyError
			if err == nil || errors.As(err, &nr) {
				t.Fatalf("CheckReady = %v, want an error that is not a NotReadyError", err)
			}
		})
	}
}

// TestCheckReadyOnTheAPIServer follows a Widget through the generations the
// API server assigns: a spec change makes a ready dependency not ready until
// its controller (here the test) reports the new generation.
func TestCheckReadyOnTheAPIServer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := env.Client()
	ns := env.Namespace(t)

	w := &unstructured.Unstructured{}
	w.SetGroupVersionKind(widgetGVK)
	w.SetNamespace(ns)
	w.SetName("db")
	w.Object["spec"] = map[string]any{"size": int64(1)}
	if err := c.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	check := func() error {
		t.Helper()
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(widgetGVK)
		if err := c.Get(ctx, client.ObjectKeyFromObject(w), got); err != nil {
			t.Fatal(err)
		}
		w = got
		return dependency.CheckReady(ctx, got, dependency.ReadyOptions{})
	}
	setStatus := func(status string) {
		t.Helper()
		w.Object["status"] = map[string]any{
			"observedGeneration": w.GetGeneration(),
			"conditions": []any{map[string]any{
				"type": "Ready", "status": status, "reason": "Test", "message": "set by the test",
				"observedGeneration": w.GetGeneration(), "lastTransitionTime": "2026-01-01T00:00:00Z",
			}},
		}
		if err := c.Status().Update(ctx, w); err != nil {
			t.Fatal(err)
		}
	}

	var nr *dependency.NotReadyError
	if err := check(); !errors.As(err, &nr) {
		t.Fatalf("new object: %v, want not ready", err)
	}
	setStatus("True")
	if err := check(); err != nil {
		t.Fatalf("after status update: %v, want ready", err)
	}
	// A spec change bumps the generation: the old Ready no longer counts.
	w.Object["spec"] = map[string]any{"size": int64(2)}
	if err := c.Update(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := check(); !errors.As(err, &nr) || !strings.Contains(nr.Reason, "not the current generation 2") {
		t.Fatalf("after spec change: %v, want not ready at generation 2", err)
	}
	setStatus("True")
	if err := check(); err != nil {
		t.Fatalf("after second status update: %v, want ready", err)
	}
}

func BenchmarkCheckReadyExpr(b *testing.B) {
	e, err := dependency.NewReadyExpr(`dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')`)
	if err != nil {
		b.Fatal(err)
	}
	u := obj(1, map[string]any{"observedGeneration": int64(1), "conditions": conds(map[string]any{"type": "Reconciling", "status": "False"}, ready("True"))})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := dependency.CheckReady(ctx, u, dependency.ReadyOptions{Expr: e}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckReadyBuiltin is the same check without an expression, the
// baseline for BenchmarkCheckReadyExpr.
func BenchmarkCheckReadyBuiltin(b *testing.B) {
	u := obj(1, map[string]any{"observedGeneration": int64(1), "conditions": conds(map[string]any{"type": "Reconciling", "status": "False"}, ready("True"))})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := dependency.CheckReady(ctx, u, dependency.ReadyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckReadsTheDependency reads Widgets from the API server by a
// reference that names their kind: a missing one is not ready and says
// "not found", a ready one passes, and the error names the reference as
// given.
func TestCheckReadsTheDependency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := env.Client()
	ns := env.Namespace(t)
	newWidget := func() client.Object {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(widgetGVK)
		return u
	}
	ref := dependency.Ref{Name: "db"}.Resolve(dependency.Ref{Kind: "Widget", Namespace: ns, Name: "app"})
	if want := (dependency.Ref{Kind: "Widget", Namespace: ns, Name: "db"}); ref != want {
		t.Fatalf("Resolve = %+v, want %+v", ref, want)
	}

	var nr *dependency.NotReadyError
	err := dependency.Check(ctx, c, ref, newWidget(), dependency.ReadyOptions{})
	if !errors.As(err, &nr) || !nr.NotFound || err.Error() != fmt.Sprintf("dependency 'Widget/%s/db' not found", ns) {
		t.Fatalf("missing dependency: %v, want a NotFound NotReadyError", err)
	}

	w := newWidget().(*unstructured.Unstructured)
	w.SetNamespace(ns)
	w.SetName("db")
	if err := c.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	err = dependency.Check(ctx, c, ref, newWidget(), dependency.ReadyOptions{})
	if !errors.As(err, &nr) || nr.NotFound || !strings.HasPrefix(err.Error(), fmt.Sprintf("dependency 'Widget/%s/db' is not ready: ", ns)) {
		t.Fatalf("dependency without status: %v, want not ready naming the reference", err)
	}

	w.Object["status"] = map[string]any{"observedGeneration": w.GetGeneration(), "conditions": []any{map[string]any{
		"type": "Ready", "status": "True", "reason": "Test", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}}}
	if err := c.Status().Update(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := dependency.Check(ctx, c, ref, newWidget(), dependency.ReadyOptions{}); err != nil {
		t.Fatalf("ready dependency: %v", err)
	}

	// A kind the API server does not serve cannot be decided: not a
	// NotReadyError, so a controller reports it rather than waiting.
	other := &unstructured.Unstructured{}
	other.SetGroupVersionKind(schema.GroupVersionKind{Group: "nowhere.gitopskit.dev", Version: "v1", Kind: "Gadget"})
	err = dependency.Check(ctx, c, dependency.Ref{Kind: "Gadget", Namespace: ns, Name: "db"}, other, dependency.ReadyOptions{})
	if err == nil || errors.As(err, &nr) {
		t.Fatalf("unserved kind: %v, want an error that is not a NotReadyError", err)
	}
}
