package ssa_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// fallback is a case the local decision must not decide by itself, or
// must decide exactly as the API server would.
type fallback struct {
	name string
	// before applies the first revision and lets others change the
	// objects, in namespace ns.
	before func(t *testing.T, ctx context.Context, ns string, apply func(string))
	// after is the revision applied last.
	after string
	// safe names the object whose last apply must be asked of the API
	// server (a dry-run); empty when the local decision is exact.
	safe string
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
%s`

func containers(cs ...string) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("      - " + c + "\n")
	}
	return b.String()
}

// otherApply applies a document with another field manager, with force.
func otherApply(t *testing.T, ctx context.Context, ns, manager, doc string) {
	t.Helper()
	o := objects(t, doc)[0]
	o.SetNamespace(ns)
	if err := env.Client().Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(manager), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
}

// otherUpdate changes a live object with an Update by another manager.
func otherUpdate(t *testing.T, ctx context.Context, ns, manager, apiVersion, kind, name string, change func(*unstructured.Unstructured)) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	change(u)
	if err := env.Client().Update(ctx, u, client.FieldOwner(manager)); err != nil {
		t.Fatal(err)
	}
}

// comparableLive reads every object of the set from ns, without what
// differs between two namespaces or two writes (uid, resourceVersion,
// timestamps), managed fields kept.
func comparableLive(t *testing.T, ctx context.Context, ns string, docs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, o := range objects(t, docs) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(o.GroupVersionKind())
		if err := env.Client().Get(ctx, client.ObjectKey{Namespace: ns, Name: o.GetName()}, u); err != nil {
			t.Fatal(err)
		}
		mf := u.GetManagedFields()
		for i := range mf {
			mf[i].Time = nil
		}
		u.SetManagedFields(mf)
		for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "namespace", "generation"} {
			unstructured.RemoveNestedField(u.Object, "metadata", f)
		}
		delete(u.Object, "status")
		out = append(out, u.Object)
	}
	return out
}

// runFallback plays a case twice, in two namespaces: with the local
// decision and with the API server deciding every object. Both must end
// with the same actions and the same objects, managed fields included.
func runFallback(t *testing.T, tc fallback) {
	ctx := testContext(t)
	type result struct {
		actions map[string]ssa.Action
		failed  []string
		live    []map[string]any
		dryRun  bool
	}
	play := func(disable bool) result {
		ns := env.Namespace(t)
		m, _, rec := recordedManager(t, sharedSchemas(t))
		opts := ssa.ApplyOptions{DefaultNamespace: ns, DisableLocalDecision: disable}
		apply := func(docs string) {
			if _, err := m.Apply(ctx, objects(t, docs), opts); err != nil {
				t.Fatalf("apply: %v", err)
			}
		}
		tc.before(t, ctx, ns, apply)
		rec.reset()
		cs, err := m.Apply(ctx, objects(t, tc.after), opts)
		r := result{actions: map[string]ssa.Action{}, live: comparableLive(t, ctx, ns, tc.after)}
		if se, ok := err.(*ssa.SetError); ok {
			for _, id := range se.Failed() {
				r.failed = append(r.failed, id.Kind+"/"+id.Name)
			}
		} else if err != nil {
			t.Fatalf("last apply: %v", err)
		}
		for _, c := range cs.Changes {
			r.actions[c.ID.Kind+"/"+c.ID.Name] = c.Action
		}
		for _, q := range rec.objectRequests(objects(t, tc.after)) {
			if q.DryRun && strings.HasSuffix(q.Path, "/"+tc.safe) {
				r.dryRun = true
			}
		}
		return r
	}
	local, server := play(false), play(true)
	if diff := cmp.Diff(server.actions, local.actions); diff != "" {
		t.Errorf("actions (-server +local):\n%s", diff)
	}
	if diff := cmp.Diff(server.failed, local.failed); diff != "" {
		t.Errorf("failed objects (-server +local):\n%s", diff)
	}
	if diff := cmp.Diff(server.live, local.live); diff != "" {
		t.Errorf("objects after the last apply (-server +local):\n%s", diff)
	}
	if tc.safe != "" && !local.dryRun {
		t.Errorf("%s was decided locally; want a dry-run on the API server", tc.safe)
	}
	t.Logf("actions: %v, failed: %v", local.actions, local.failed)
}

func TestLocalDecisionFallsBackWhenUnsure(t *testing.T) {
	t.Parallel()
	web := containers("{name: web, image: \"nginx:1.27\"}")
	cases := []fallback{
		{
			name: "another manager changed our field",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: \"1\", b: \"1\"}\n")
				otherUpdate(t, ctx, ns, "intruder", "v1", "ConfigMap", "cm", func(u *unstructured.Unstructured) {
					_ = unstructured.SetNestedField(u.Object, "2", "data", "a")
				})
			},
			after: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: \"1\", b: \"1\"}\n",
			safe:  "cm",
		},
		{
			name: "another manager shares our field with the same value",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: \"1\"}\n")
				otherApply(t, ctx, ns, "sharer", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: \"1\"}\n")
			},
			after: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: \"1\"}\n",
			safe:  "cm",
		},
		{
			name: "a defaulted field changes value",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(fmt.Sprintf(deployment, web))
			},
			after: strings.Replace(fmt.Sprintf(deployment, web), "spec:\n  selector", "spec:\n  revisionHistoryLimit: 3\n  selector", 1),
			safe:  "web",
		},
		{
			name: "a defaulted field is set to its default",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(fmt.Sprintf(deployment, web))
			},
			after: fmt.Sprintf(deployment, containers("{name: web, image: \"nginx:1.27\", imagePullPolicy: IfNotPresent}")),
			safe:  "web",
		},
		{
			name: "a defaulted field leaves the manifest",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(strings.Replace(fmt.Sprintf(deployment, web), "spec:\n  selector", "spec:\n  revisionHistoryLimit: 3\n  selector", 1))
			},
			after: fmt.Sprintf(deployment, web),
			safe:  "web",
		},
		{
			name: "containers: another manager adds a sidecar",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(fmt.Sprintf(deployment, web))
				otherApply(t, ctx, ns, "injector", fmt.Sprintf(deployment, containers("{name: sidecar, image: \"busybox:1.36\"}")))
			},
			after: fmt.Sprintf(deployment, web), // decided locally: the sidecar is the injector's
		},
		{
			name: "containers: reordered in the manifest",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(fmt.Sprintf(deployment, containers("{name: a, image: \"nginx:1.27\"}", "{name: b, image: \"nginx:1.27\"}")))
			},
			after: fmt.Sprintf(deployment, containers("{name: b, image: \"nginx:1.27\"}", "{name: a, image: \"nginx:1.27\"}")),
			safe:  "web",
		},
		{
			name: "containers: the second one's image changes",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(fmt.Sprintf(deployment, containers("{name: a, image: \"nginx:1.27\"}", "{name: b, image: \"nginx:1.27\"}")))
			},
			after: fmt.Sprintf(deployment, containers("{name: a, image: \"nginx:1.27\"}", "{name: b, image: \"nginx:1.28\"}")),
			safe:  "web",
		},
		{
			name: "a quantity written 0.5 where 500m is stored",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(fmt.Sprintf(deployment, containers("{name: web, image: \"nginx:1.27\", resources: {requests: {cpu: 500m, memory: 1Gi}}}")))
			},
			after: fmt.Sprintf(deployment, containers("{name: web, image: \"nginx:1.27\", resources: {requests: {cpu: 0.5, memory: 1073741824}}}")),
			safe:  "web",
		},
		{
			name: "a quantity written 0.5 again",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(fmt.Sprintf(deployment, containers("{name: web, image: \"nginx:1.27\", resources: {requests: {cpu: 0.5}}}")))
			},
			after: fmt.Sprintf(deployment, containers("{name: web, image: \"nginx:1.27\", resources: {requests: {cpu: 0.5}}}")),
			safe:  "web",
		},
		{
			name: "an int-or-string written as a string",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply("apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {clusterIP: None, ports: [{name: http, port: 80, targetPort: 8080}]}\n" +
					"---\napiVersion: v1\nkind: Pod\nmetadata: {name: pod}\nspec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}\n")
			},
			after: "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {clusterIP: None, ports: [{name: http, port: 80, targetPort: http}]}\n" +
				"---\napiVersion: v1\nkind: Pod\nmetadata: {name: pod}\nspec: {containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}\n",
			safe: "svc",
		},
		{
			name: "an integer written as a string",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply(strings.Replace(fmt.Sprintf(deployment, web), "spec:\n  selector", "spec:\n  replicas: 2\n  selector", 1))
			},
			after: strings.Replace(fmt.Sprintf(deployment, web), "spec:\n  selector", "spec:\n  replicas: \"2\"\n  selector", 1),
			safe:  "web",
		},
		{
			name: "a whole number written as a float",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) {
				apply("apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {clusterIP: None, ports: [{port: 80, targetPort: 8080}]}\n")
			},
			// decided locally: 8080.0 goes on the wire as 8080
			after: "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {clusterIP: None, ports: [{port: 80, targetPort: 8080.0}]}\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runFallback(t, tc)
		})
	}
}

func TestLocalDecisionPreserveUnknownFields(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	group := "unknown-" + strings.ToLower(env.Namespace(t)) + ".example.com"
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "blobs." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Blob", ListKind: "BlobList", Plural: "blobs", Singular: "blob"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptrTo(true),
				}},
			}},
		},
	}
	if err := env.InstallCRDs(ctx, crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client().Delete(context.Background(), crd) })
	blob := fmt.Sprintf("apiVersion: %s/v1\nkind: Blob\nmetadata: {name: b}\nspec: {size: 1, parts: [a, b], nested: {x: \"1\"}}\n", group)
	for _, tc := range []fallback{
		{
			name:   "unchanged",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) { apply(blob) },
			after:  blob,
			safe:   "b",
		},
		{
			name:   "changed",
			before: func(t *testing.T, ctx context.Context, ns string, apply func(string)) { apply(blob) },
			after:  strings.Replace(blob, "size: 1", "size: 2", 1),
			safe:   "b",
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runFallback(t, tc) })
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestSchemasFollowCRDChanges changes a CRD's schema: once the API server
// publishes the new one, the next Apply decides with it.
func TestSchemasFollowCRDChanges(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ns := env.Namespace(t)
	group := "refresh-" + strings.ToLower(ns) + ".example.com"
	crd := func(fields ...string) string {
		props := ""
		for _, f := range fields {
			props += f + ": {type: string}, "
		}
		return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.%[1]s}
spec:
  group: %[1]s
  names: {kind: Gizmo, listKind: GizmoList, plural: gizmos, singular: gizmo}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {%s}}
`, group, props)
	}
	gizmo := func(spec string) []*unstructured.Unstructured {
		return objects(t, fmt.Sprintf("apiVersion: %s/v1\nkind: Gizmo\nmetadata: {name: g}\nspec: {%s}\n", group, spec))
	}
	m, _, rec := recordedManager(t, sharedSchemas(t))
	t.Cleanup(func() { _ = env.Client().Delete(context.Background(), objects(t, crd())[0]) })
	opts := ssa.ApplyOptions{DefaultNamespace: ns}
	if _, err := m.Apply(ctx, objects(t, crd("a")), opts); err != nil {
		t.Fatal(err)
	}
	published := func() string { return openAPIURL(t, ctx, "apis/"+group+"/v1") }
	waitPublished := func(old string) string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if u := published(); u != "" && u != old {
				return u
			}
			if time.Now().After(deadline) {
				t.Fatal("the API server never published the schema")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	before := waitPublished("")
	// Applied, then decided locally with the first schema, which the
	// Schemas now hold.
	for i := range 2 {
		rec.reset()
		if _, err := m.Apply(ctx, gizmo("a: x"), opts); err != nil {
			t.Fatal(err)
		}
		if q := rec.objectRequests(gizmo("")); i == 1 && len(q) != 0 {
			t.Errorf("not decided with the first schema: %+v", q)
		}
	}
	if _, err := m.Apply(ctx, objects(t, crd("a", "b")), opts); err != nil {
		t.Fatal(err)
	}
	waitPublished(before)
	// b is now part of the schema (the first one would not type it):
	// applied once, then decided locally.
	if _, err := m.Apply(ctx, gizmo("a: x, b: bee"), opts); err != nil {
		t.Fatal(err)
	}
	rec.reset()
	cs, err := m.Apply(ctx, gizmo("a: x, b: bee"), opts)
	if err != nil || cs.Count(ssa.ActionUnchanged) != 1 {
		t.Fatalf("re-apply: %v %s", err, cs)
	}
	if q := rec.objectRequests(gizmo("")); len(q) != 0 {
		t.Errorf("not decided with the new schema: %+v", q)
	}
}

// openAPIURL returns the URL, hash included, the API server's OpenAPI v3
// index gives for a group version.
func openAPIURL(t *testing.T, ctx context.Context, path string) string {
	t.Helper()
	d, err := discovery.NewDiscoveryClientForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	body, err := d.RESTClient().Get().AbsPath("/openapi/v3").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Paths map[string]struct {
			URL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatal(err)
	}
	return index.Paths[path].URL
}
